//! Proof generation at 1,000,000 entries, next to the raw cost of the reads it needs.
//!
//! `cargo bench -p relic-benches --bench proofs`
//!
//! The ledger: 1,000,000 records with 100-byte payloads (only the tree matters here), built once
//! and cached in `target/relic-bench-1000000x100/` (delete it to rebuild). Each iteration picks a random
//! index / size.
//!
//! - `prove_inclusion_1m`: `merkle::prove_inclusion(index, n, ledger.store())`.
//! - `prove_consistency_1m`: `Ledger::prove_consistency(old, n)` for a random `old`.
//! - `tree_hash_1m`: `merkle::tree_hash(size, store)` for a random size.
//! - `ledger_prove_inclusion_bundle_1m`: `Ledger::prove_inclusion(index, None)`, the tlog-proof
//!   bundle the CLI serves: the proof plus the stored checkpoint at the current size, opened and
//!   checked (signature verification) on every call.
//! - `sled_get_random_hash`: one `sled::Db::get` of a random stored hash: the unit of work.
//! - `sled_get_random_hash_x20`: 20 such gets (`log2(1,000,000)` ≈ 20): the physical bound of a proof
//!   that reads one stored hash per level.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use relic_benches::{cached_ledger, report_load};
use relic_ledger::merkle;
use relic_ledger::store::hash_key;
use relic_ledger::Ledger;

const SIZE: u64 = 1_000_000;

fn proofs(c: &mut Criterion) {
    let dir = cached_ledger(SIZE, 100);
    report_load("proofs: start");
    // Writable: the bundle benchmark needs a checkpoint at the current size (signed once, reused).
    let ledger = Ledger::open(&dir).unwrap();
    let n = ledger.size();
    assert_eq!(n, SIZE);
    ledger.checkpoint(None).unwrap();
    let store = ledger.store();
    let stored = merkle::stored_hash_count(n);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    {
        let p = merkle::prove_inclusion(n / 3, n, store).unwrap();
        let q = ledger.prove_consistency(n / 3, n).unwrap();
        eprintln!("inclusion proof: {} hashes; consistency proof: {} hashes", p.len(), q.len());
    }

    let mut g = c.benchmark_group("proofs");
    g.sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));

    g.bench_function("prove_inclusion_1m", |b| {
        b.iter(|| merkle::prove_inclusion(rng.gen_range(0..n), n, store).unwrap())
    });
    g.bench_function("prove_consistency_1m", |b| {
        b.iter(|| ledger.prove_consistency(rng.gen_range(1..n), n).unwrap())
    });
    g.bench_function("tree_hash_1m", |b| b.iter(|| merkle::tree_hash(rng.gen_range(1..=n), store).unwrap()));
    g.bench_function("ledger_prove_inclusion_bundle_1m", |b| {
        b.iter(|| ledger.prove_inclusion(rng.gen_range(0..n), None).unwrap())
    });
    g.bench_function("sled_get_random_hash", |b| {
        b.iter(|| black_box(store.db.get(hash_key(rng.gen_range(0..stored))).unwrap().unwrap()))
    });
    g.bench_function("sled_get_random_hash_x20", |b| {
        b.iter(|| {
            for _ in 0..20 {
                black_box(store.db.get(hash_key(rng.gen_range(0..stored))).unwrap().unwrap());
            }
        })
    });

    g.finish();
    drop(ledger);
    report_load("proofs: end");
}

criterion_group!(benches, proofs);
criterion_main!(benches);
