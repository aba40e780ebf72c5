//! The storage work of an append on raw sled, without relic: the floor under `append`'s figures
//! (`relic-benches`), measured with sled configured as relic's store configures it.
//!
//! - `sled_1_writer_flush_each`: the same bytes per record as an append (the record, two 4 KiB
//!   tiles standing for the tiles it extends, the 48-byte head) in one batch, `flush()` after each:
//!   the durable single-writer bound.
//! - `sled_batch_64_flush_each`: 64 records per batch, one `flush()` per batch: the storage bound of
//!   group commit at 64 writers.
//!
//! ```sh
//! cargo bench -p relic-store --bench raw_db
//! ```

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use relic_benches::{bench_tempdir, report_load, sample_record};
use relic_store::legacy::store::{record_key, META_HEAD};
use relic_store::legacy::tiles::tile_key;

const PAYLOAD: usize = 1024;
const WRITERS: u64 = 64;

/// sled as relic's store opens it (`src/db.rs`): 64 MiB cache, high throughput, flushed on demand.
fn config(path: &Path) -> sled::Config {
    sled::Config::new().path(path).cache_capacity(64 << 20).mode(sled::Mode::HighThroughput).flush_every_ms(None)
}

fn raw_db(c: &mut Criterion) {
    report_load("raw_db: start");
    let record = sample_record(PAYLOAD);
    let mut g = c.benchmark_group("raw_db");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(1));
    // --- raw sled, one writer, flush after each record ---
    // The store keeps tree hashes 256 to a tile; an append rewrites the open tile of level 0 (half
    // full on average) and, every other record, of a level above: a 4 KiB value stands for them.
    let tile = [0xabu8; 4096];
    let head = [0x11u8; 48];
    {
        let dir = bench_tempdir();
        let db = config(dir.path()).open().unwrap();
        let mut seq = 0u64;
        g.bench_function("sled_1_writer_flush_each", |b| {
            b.iter(|| {
                let mut batch = sled::Batch::default();
                batch.insert(&record_key(seq), record.as_slice());
                batch.insert(&tile_key(0, seq / 256), &tile[..]);
                batch.insert(&tile_key(1, seq / 512), &tile[..]);
                batch.insert(META_HEAD, &head[..]);
                db.apply_batch(batch).unwrap();
                db.flush().unwrap();
                seq += 1;
            })
        });
    }

    // --- raw sled, batches of 64 records, one flush per batch (group commit's storage work) ---
    g.throughput(Throughput::Elements(WRITERS));
    {
        let dir = bench_tempdir();
        let db = config(dir.path()).open().unwrap();
        let mut seq = 0u64;
        g.bench_function("sled_batch_64_flush_each", |b| {
            b.iter(|| {
                let mut batch = sled::Batch::default();
                for _ in 0..WRITERS {
                    batch.insert(&record_key(seq), record.as_slice());
                    seq += 1;
                }
                for level in 0..3 {
                    batch.insert(&tile_key(level, seq / 256 >> level), &tile[..]);
                }
                batch.insert(META_HEAD, &head[..]);
                db.apply_batch(batch).unwrap();
                db.flush().unwrap();
            })
        });
    }

    g.finish();
}

criterion_group!(benches, raw_db);
criterion_main!(benches);
