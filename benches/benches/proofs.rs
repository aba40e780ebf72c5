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
//! - `ledger_checkpoint_stored_1m`: `Ledger::checkpoint(None)` when the checkpoint is already stored
//!   (what every bundle pays on top of the proof).
//! - `hash_read_same`: one read of the same stored hash from `log/hashes` (always in the page cache).
//! - `hash_read_random`: one read of a random stored hash: the unit of work.
//! - `hash_read_random_x20`: 20 such reads (`log2(1,000,000)` ≈ 20): the physical bound of a proof
//!   that reads one stored hash per level.

use std::cell::Cell;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use relic_benches::{cached_ledger, report_load};
use relic_ledger::merkle::{self, Hash, HashReader, ReadError};
use relic_ledger::store::Store;
use relic_ledger::Ledger;

const SIZE: u64 = 1_000_000;

/// A store that counts the stored hashes read through it.
struct Counting<'a> {
    store: &'a Store,
    reads: Cell<u64>,
}

impl HashReader for Counting<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ReadError> {
        self.reads.set(self.reads.get() + indexes.len() as u64);
        self.store.read_hashes(indexes)
    }
}

fn proofs(c: &mut Criterion) {
    let dir = cached_ledger(SIZE, 100);
    report_load("proofs: start");
    // Writable: the bundle benchmark needs a checkpoint at the current size (signed once, reused).
    let ledger = Ledger::open(&dir, relic_ledger::policy::unchecked()).unwrap();
    let n = ledger.size();
    assert_eq!(n, SIZE);
    ledger.checkpoint(None).unwrap();
    let store = ledger.store();
    let stored = merkle::stored_hash_count(n);
    let mut rng = StdRng::seed_from_u64(0x5eed);

    // How many stored hashes each operation reads (the physical bound is that many database gets), over
    // random inputs; this also brings the database's cache to its steady state before anything is timed.
    {
        const SAMPLES: u64 = 20_000;
        let counting = Counting { store, reads: Cell::new(0) };
        let (mut inc, mut con, mut th, mut len) = (0u64, 0u64, 0u64, 0usize);
        for _ in 0..SAMPLES {
            counting.reads.set(0);
            len += merkle::prove_inclusion(rng.gen_range(0..n), n, &counting).unwrap().len();
            inc += counting.reads.get();
            counting.reads.set(0);
            merkle::prove_consistency(rng.gen_range(1..n), n, &counting).unwrap();
            con += counting.reads.get();
            counting.reads.set(0);
            merkle::tree_hash(rng.gen_range(1..=n), &counting).unwrap();
            th += counting.reads.get();
        }
        let avg = |x: u64| x as f64 / SAMPLES as f64;
        eprintln!(
            "stored hashes read per operation at n = {n} (mean of {SAMPLES} random): inclusion proof {:.1} (proof length {:.1}), consistency proof {:.1}, tree hash {:.1}",
            avg(inc),
            len as f64 / SAMPLES as f64,
            avg(con),
            avg(th)
        );
    }

    let mut g = c.benchmark_group("proofs");
    g.sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));

    // --- the unit of work: one read of a stored hash (one `pread` of `log/hashes`) ---
    let hot = merkle::stored_hash_index(19, 0);
    g.bench_function("hash_read_same", |b| b.iter(|| black_box(store.read_hashes(&[hot]).unwrap())));
    g.bench_function("hash_read_random", |b| {
        b.iter(|| black_box(store.read_hashes(&[rng.gen_range(0..stored)]).unwrap()))
    });
    g.bench_function("hash_read_random_x20", |b| {
        b.iter(|| {
            for _ in 0..20 {
                black_box(store.read_hashes(&[rng.gen_range(0..stored)]).unwrap());
            }
        })
    });

    // --- the tree operations ---
    g.bench_function("prove_inclusion_1m", |b| {
        b.iter(|| merkle::prove_inclusion(rng.gen_range(0..n), n, store).unwrap())
    });
    g.bench_function("prove_consistency_1m", |b| {
        b.iter(|| ledger.prove_consistency(rng.gen_range(1..n), n).unwrap())
    });
    g.bench_function("tree_hash_1m", |b| b.iter(|| merkle::tree_hash(rng.gen_range(1..=n), store).unwrap()));

    // --- what the CLI serves: a tlog-proof bundle (checkpoint + proof) ---
    g.bench_function("ledger_checkpoint_stored_1m", |b| b.iter(|| ledger.checkpoint(None).unwrap()));
    g.bench_function("ledger_prove_inclusion_bundle_1m", |b| {
        b.iter(|| ledger.prove_inclusion(rng.gen_range(0..n), None).unwrap())
    });

    g.finish();
    report_load("proofs: end");
}

criterion_group!(benches, proofs);
criterion_main!(benches);
