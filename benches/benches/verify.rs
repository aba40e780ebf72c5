//! Full verification throughput, next to the raw cost of what it must do, measured in the same run.
//!
//! `cargo bench -p relic-benches --bench verify`
//!
//! The ledger: 100,000 records with 1 KB payloads, built once and cached in
//! `target/relic-bench-100000x1024/` (delete it to rebuild).
//!
//! - `verify_dir_100k`: `relic_ledger::verify::verify_dir` (opens the store, as `relic verify` does).
//! - `verify_store_100k`: `relic_ledger::verify::verify` on an already open store.
//!   Both use every core: one thread streams and hashes, `available_parallelism()` workers check
//!   signatures in batches of 256.
//! - `verify_store_100k_strict`: the same with `Options { strict: true }` (`verify --strict`): each
//!   signature checked alone with `verify_strict`.
//! - `ed25519_verify_strict`: one `VerifyingKey::verify_strict` of a record's signed message (1 thread).
//! - `ed25519_verify_batch_256`: `ed25519_dalek::verify_batch` over 256 records' messages (1 thread).
//! - `ed25519_verify_batch_256_all_cores`: the same on every core at once: the signature bound of
//!   a verifier that does nothing else.
//! - `relic_batch_256_all_cores`: the same with relic's batch equation (`relic_ledger::batch`, each
//!   key's terms gathered into one), which `verify` uses: the signature bound of `verify`.
//! - `ed25519_verify_strict_256_all_cores`: 256 `verify_strict` per core on every core at once: the
//!   signature bound of `--strict`.
//! - `store_scan_100k`: reading every record of the store in order (the storage bound of the stream).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use relic_benches::{cached_ledger, report_load, signed_messages};
use relic_ledger::verify;
use relic_ledger::Ledger;

const SIZE: u64 = 100_000;
const BATCH: usize = 256;
const SAMPLE: usize = 16 * BATCH;

fn verify_bench(c: &mut Criterion) {
    let dir = cached_ledger(SIZE, 1024);
    report_load("verify: start");
    let (msgs, sigs, keys) = {
        let ledger = Ledger::open_read_only(&dir).unwrap();
        signed_messages(&ledger, 1, SAMPLE)
    };
    eprintln!("signed message {} bytes", msgs[0].len());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut g = c.benchmark_group("verify");

    // --- relic's verification over the whole ledger: one iteration is one full pass ---
    g.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(12));
    g.throughput(Throughput::Elements(SIZE));
    g.bench_function("verify_dir_100k", |b| {
        b.iter(|| {
            let report = verify::verify_dir(&dir, &verify::Options::default(), &mut |_, _| {}).unwrap().unwrap();
            assert_eq!(report.size, SIZE);
        })
    });
    {
        let ledger = Ledger::open_read_only(&dir).unwrap();
        g.bench_function("verify_store_100k", |b| {
            b.iter(|| {
                let report = verify::verify(ledger.store(), &verify::Options::default(), &mut |_, _| {}).unwrap();
                assert_eq!(report.size, SIZE);
            })
        });
        g.bench_function("verify_store_100k_strict", |b| {
            let opts = verify::Options { strict: true, ..Default::default() };
            b.iter(|| {
                let report = verify::verify(ledger.store(), &opts, &mut |_, _| {}).unwrap();
                assert_eq!(report.size, SIZE);
            })
        });
        g.bench_function("store_scan_100k", |b| {
            b.iter(|| {
                let mut n = 0u64;
                let mut bytes = 0usize;
                for r in ledger.store().records(0) {
                    let (_, v) = r.unwrap();
                    bytes += v.len();
                    n += 1;
                }
                assert_eq!(n, SIZE);
                black_box(bytes)
            })
        });
    }

    // --- raw signature checks over the same messages ---
    g.sample_size(20).sampling_mode(SamplingMode::Auto).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| {
            i = (i + 1) % SAMPLE;
            keys[i].verify_strict(&msgs[i], &sigs[i]).unwrap();
        })
    });

    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut j = 0usize;
    g.bench_function("ed25519_verify_batch_256", |b| {
        b.iter(|| {
            j = (j + BATCH) % SAMPLE;
            ed25519_dalek::verify_batch(&refs[j..j + BATCH], &sigs[j..j + BATCH], &keys[j..j + BATCH]).unwrap();
        })
    });

    g.throughput(Throughput::Elements((BATCH * cores) as u64));
    g.bench_function("ed25519_verify_batch_256_all_cores", |b| {
        b.iter(|| on_every_core(cores, |j| ed25519_dalek::verify_batch(&refs[j..j + BATCH], &sigs[j..j + BATCH], &keys[j..j + BATCH]).is_ok()))
    });

    // relic's own batch equation (ledger/src/batch.rs: each key's terms gathered into one), what
    // `verify` and the mirror use.
    g.bench_function("relic_batch_256_all_cores", |b| {
        b.iter(|| on_every_core(cores, |j| relic_ledger::batch::verify_all(&refs[j..j + BATCH], &sigs[j..j + BATCH], &keys[j..j + BATCH])))
    });

    g.bench_function("ed25519_verify_strict_256_all_cores", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for t in 0..cores {
                    let j = (t * BATCH) % SAMPLE;
                    let (msgs, sigs, keys) = (&msgs, &sigs, &keys);
                    s.spawn(move || {
                        for k in j..j + BATCH {
                            keys[k].verify_strict(&msgs[k], &sigs[k]).unwrap();
                        }
                    });
                }
            })
        })
    });

    g.finish();
    report_load("verify: end");
}

/// Runs `check(j)` on `cores` threads at once, thread `t` with `j = t · BATCH` (mod the sample);
/// every check must pass.
fn on_every_core(cores: usize, check: impl Fn(usize) -> bool + Sync) {
    std::thread::scope(|s| {
        for t in 0..cores {
            let check = &check;
            s.spawn(move || assert!(check((t * BATCH) % SAMPLE), "the benchmark's signatures are valid"));
        }
    })
}

criterion_group!(benches, verify_bench);
criterion_main!(benches);
