//! Durable appends of 1 KB events, next to their physical limits measured in the same run.
//!
//! `cargo bench -p relic-benches --bench append`
//!
//! - `ledger_1_writer`: one caller, `Ledger::append_blocking` in a loop (one group, one fsync each).
//! - `ledger_64_tasks` / `ledger_64_threads`: 64 writers each appending in a loop and awaiting their
//!   receipt (tokio tasks on a multi-thread runtime / OS threads); group commit packs them.
//! - The embedded database's own bound, the same bytes without relic, is measured in the storage
//!   crate: `cargo bench -p relic-store --bench raw_db`.
//! - `fs_append_fdatasync_1k`: a bare `write` + `fdatasync` of one record appended to a file (each
//!   sync also commits the file's new size).
//! - `fs_overwrite_fdatasync_1k`: `pwrite` + `fdatasync` of one record into a preallocated, already
//!   written file: the device's flush latency, the bound of any one-writer durable append.
//! - `ed25519_sign_1k`: `SigningKey::sign` of a real record's signed message (~1.1 KB): each record's
//!   signature covers its predecessor's link, so signing is sequential; this bounds any writer count.
//! - `sequencer_cpu_per_record`: everything the sequencer computes per record (encode, sign, SHA-256
//!   leaf, BLAKE3 link, frontier update), without storage: the CPU bound of one sequencer thread.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey};
use relic_benches::{bench_tempdir, draft, payload_json, report_load, sample_record, ORIGIN};
use relic_ledger::merkle::{self, Frontier};
use relic_ledger::note::SignerKey;
use relic_ledger::record::{link_of, Record};
use relic_ledger::Ledger;

const PAYLOAD: usize = 1024;
const WRITERS: u64 = 64;

fn append(c: &mut Criterion) {
    report_load("append: start");
    let payload = payload_json(PAYLOAD);
    let record = sample_record(PAYLOAD);
    eprintln!("payload {} bytes, record {} bytes", payload.len(), record.len());

    let mut g = c.benchmark_group("append");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));

    // --- relic, one writer ---
    g.throughput(Throughput::Elements(1));
    {
        let dir = bench_tempdir();
        let ledger = Ledger::init(dir.path(), ORIGIN, relic_ledger::policy::unchecked()).unwrap();
        g.bench_function("ledger_1_writer", |b| b.iter(|| ledger.append_blocking(draft(&payload)).unwrap()));
        group_stats("ledger_1_writer", &ledger);
        ledger.close();
    }

    // --- relic, 64 concurrent writers (tokio tasks) ---
    {
        let dir = bench_tempdir();
        let ledger = Arc::new(Ledger::init(dir.path(), ORIGIN, relic_ledger::policy::unchecked()).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let payload = Arc::new(payload.clone());
        g.bench_function("ledger_64_tasks", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    let mut set = tokio::task::JoinSet::new();
                    for w in 0..WRITERS {
                        let n = iters / WRITERS + u64::from(w < iters % WRITERS);
                        let (l, p) = (ledger.clone(), payload.clone());
                        set.spawn(async move {
                            for _ in 0..n {
                                l.append(draft(&p)).await.unwrap();
                            }
                        });
                    }
                    while let Some(r) = set.join_next().await {
                        r.unwrap();
                    }
                });
                start.elapsed()
            })
        });
        drop(rt);
        group_stats("ledger_64_tasks", &ledger);
        Arc::into_inner(ledger).unwrap().close();
    }

    // --- relic, 64 concurrent writers (OS threads, append_blocking) ---
    {
        let dir = bench_tempdir();
        let ledger = Ledger::init(dir.path(), ORIGIN, relic_ledger::policy::unchecked()).unwrap();
        g.bench_function("ledger_64_threads", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for w in 0..WRITERS {
                        let n = iters / WRITERS + u64::from(w < iters % WRITERS);
                        let (l, p) = (&ledger, &payload);
                        s.spawn(move || {
                            for _ in 0..n {
                                l.append_blocking(draft(p)).unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
        group_stats("ledger_64_threads", &ledger);
        ledger.close();
    }

    // (The same storage work on the raw database, without relic: `cargo bench -p relic-store --bench raw_db`.)
    g.throughput(Throughput::Elements(1));

    // --- the device: one record's bytes to a file, then fdatasync ---
    g.throughput(Throughput::Elements(1));
    {
        let dir = bench_tempdir();
        // Appending grows the file, so each fdatasync also commits the new size (a journal commit).
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.path().join("log")).unwrap();
        g.bench_function("fs_append_fdatasync_1k", |b| {
            b.iter(|| {
                f.write_all(&record).unwrap();
                f.sync_data().unwrap();
            })
        });
        // Overwriting a preallocated, already written region: the device's flush latency alone
        // (the embedded database writes into preallocated segments like this).
        let f = std::fs::OpenOptions::new().create(true).read(true).write(true).open(dir.path().join("prealloc")).unwrap();
        const REGION: u64 = 16 << 20;
        f.write_all_at(&vec![0u8; REGION as usize], 0).unwrap();
        f.sync_all().unwrap();
        let mut off = 0u64;
        g.bench_function("fs_overwrite_fdatasync_1k", |b| {
            b.iter(|| {
                f.write_all_at(&record, off).unwrap();
                f.sync_data().unwrap();
                off = (off + record.len() as u64) % (REGION - record.len() as u64);
            })
        });
    }

    // --- the signature: the sequential bound ---
    let msg = Record::signed_message(&record[..record.len() - 64]);
    let sk = SigningKey::from_bytes(&[7u8; 32]);
    g.bench_function("ed25519_sign_1k", |b| b.iter(|| sk.sign(black_box(&msg))));

    // --- everything the sequencer computes per record, without storage ---
    {
        let key = SignerKey::from_seed(ORIGIN, [7u8; 32]).unwrap();
        let mut rec = Record::decode(&record).unwrap();
        let mut frontier = Frontier::new();
        let mut link = [0u8; 32];
        g.bench_function("sequencer_cpu_per_record", |b| {
            b.iter(|| {
                rec.seq += 1;
                rec.prev = link;
                rec.signature = key.sign(&Record::signed_message(&rec.body()));
                let bytes = rec.to_bytes();
                let hashes = frontier.push(merkle::leaf_hash(&bytes));
                link = link_of(&bytes);
                black_box((hashes, &bytes));
            })
        });
    }

    g.finish();
    report_load("append: end");
}

/// How well group commit packed the appends of a whole benchmark (warm-up included).
fn group_stats(name: &str, ledger: &Ledger) {
    let appends = ledger.size() - 1;
    let groups = ledger.groups_committed().max(1);
    eprintln!("{name}: {appends} appends in {groups} group commits = {:.1} records per flush", appends as f64 / groups as f64);
}

criterion_group!(benches, append);
criterion_main!(benches);
