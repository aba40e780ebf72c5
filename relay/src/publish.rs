//! Publishing: every committed record of the log, in sequence order, to partition 0 of a topic.
//!
//! What this is: the outbox relay of `relic publish`. Records are streamed from the ledger with
//! librdkafka's idempotent producer (`enable.idempotence=true`, `acks=all`, and no message timeout:
//! an unreachable broker is waited for, never skipped, because a message that timed out could leave
//! a gap behind a later one). At most 20,000 records are unacknowledged at a time. The ledger's
//! durable publish cursor ([`relic_ledger::outbox`]) moves only over records whose delivery the
//! broker acknowledged, every `batch` records and when everything is acknowledged; each time, the
//! publisher issues the checkpoint at that size and sends it to the checkpoint topic, so consumers
//! can check tree roots.
//!
//! On start, and after any broker failure, the publisher re-synchronises: it reads the topic's last
//! message (from the listed high watermark − 1 to the end of the partition) and its first one, and
//! compares them with its own records and cursor. A topic that holds less than the cursor says (a
//! broker that lost its data, e.g. one with in-memory storage that restarted) gets the missing
//! records again, from record 0 if the topic starts anywhere else; records delivered before a crash
//! but not yet counted by the cursor are counted, not re-sent. A duplicate reaches the topic only as
//! an exact re-send, which consumers drop by sequence number.
//!
//! The ledger is held open only while there is work: it is closed when the publisher is idle, and
//! when the broker has acknowledged nothing for half a second, so `relic append` and other
//! commands keep working while a publisher runs or waits.
//!
//! What this is not: a consumer (see [`crate::mirror`], [`crate::subscribe`]).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use relic_ledger::checkpoint::Checkpoint;
use relic_ledger::note::key_id_hex;
use relic_ledger::{outbox, witnesses, Ledger, Record};

use crate::evidence;
use crate::kafka::{self, PARTITION};
use crate::{Config, Error};

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// How to reach the witnesses of the data directory's witness policy, if it has one
    /// (`relic_ledger::witnesses`): each checkpoint is then published only cosigned by a quorum.
    pub witnesses: Option<std::sync::Arc<dyn witnesses::Transport>>,
    /// Keep running: publish new records as they are appended.
    pub follow: bool,
    /// Records per batch (one cursor write and one checkpoint each).
    pub batch: usize,
    /// With `follow`, how often to look for new records.
    pub interval: Duration,
    /// Give up after failing (or waiting on an unresponsive broker) this long without progress;
    /// `None`: never.
    pub retry_for: Option<Duration>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self { witnesses: None, follow: false, batch: 10_000, interval: Duration::from_millis(500), retry_for: Some(Duration::from_secs(300)) }
    }
}

/// What the publisher is doing, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Compared the topic with the cursor: publishing resumes at `start`.
    Synced { size: u64, cursor: u64, start: u64 },
    /// Records `from..to` were acknowledged by the broker; the cursor is at `to`.
    Published { from: u64, to: u64 },
    /// The checkpoint at this size was issued and acknowledged.
    Checkpoint { size: u64 },
    /// Something failed; trying again after `wait`.
    Retrying { error: String, wait: Duration },
    /// Worth telling, not a failure.
    Notice(String),
}

/// What a run achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records acknowledged during this run.
    pub sent: u64,
    /// The publish cursor at the end.
    pub cursor: u64,
    /// The size of the last checkpoint published.
    pub checkpoint: Option<u64>,
}

/// Publishes the ledger in `data` until it is all acknowledged (or forever, with `follow`).
pub fn publish(data: &Path, cfg: &Config, opts: &PublishOptions, progress: &mut dyn FnMut(Progress)) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    let mut last_progress = Instant::now();
    let mut wait = Duration::from_millis(200);
    // Refuse early what retrying cannot fix: no ledger, or no signing key to issue checkpoints.
    drop(Ledger::open(data, relic_ledger::policy::closed())?);
    loop {
        let before = summary.sent;
        let result = session(data, cfg, opts, progress, &mut summary, &mut last_progress);
        if summary.sent > before {
            wait = Duration::from_millis(200);
        }
        match result {
            Ok(()) => return Ok(summary),
            Err(e) if e.is_transient() => {
                if let Some(limit) = opts.retry_for {
                    if last_progress.elapsed() > limit {
                        return Err(Error::GaveUp { seconds: limit.as_secs(), last: e.to_string() });
                    }
                }
                progress(Progress::Retrying { error: e.to_string(), wait });
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a message sent stands for, handed back in its delivery report.
enum Sent {
    Record(u64),
    Checkpoint(u64),
    /// An evidence file named by this record.
    File(u64),
}

#[derive(Default)]
struct DeliveryState {
    /// Every record before this one is acknowledged (in this batch).
    next: u64,
    /// Acknowledged records after a gap in the reports (not expected from an idempotent producer).
    early: BTreeSet<u64>,
    /// The first delivery failure.
    failed: Option<String>,
    checkpoint_acked: Option<u64>,
    /// Evidence files sent and not yet acknowledged.
    files_pending: u64,
    /// The lowest record whose evidence file failed: the cursor stays below it.
    file_failed: Option<u64>,
    /// Reports received, to tell a stalled broker from a slow one.
    reports: u64,
}

/// Collects delivery reports.
#[derive(Default)]
struct Deliveries(Mutex<DeliveryState>);

impl Deliveries {
    fn state(&self) -> std::sync::MutexGuard<'_, DeliveryState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Sent>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Box<Sent>) {
        let mut st = self.state();
        st.reports += 1;
        match (result, *sent) {
            (Ok(_), Sent::Record(seq)) => {
                if seq == st.next {
                    st.next += 1;
                    loop {
                        let n = st.next;
                        if !st.early.remove(&n) {
                            break;
                        }
                        st.next += 1;
                    }
                } else if seq > st.next {
                    st.early.insert(seq);
                }
            }
            (Ok(_), Sent::Checkpoint(size)) => st.checkpoint_acked = Some(size),
            (Err((e, _)), Sent::Record(seq)) => {
                if st.failed.is_none() {
                    st.failed = Some(format!("delivery of record {seq} failed: {e}"));
                }
            }
            (Err((e, _)), Sent::Checkpoint(size)) => {
                if st.failed.is_none() {
                    st.failed = Some(format!("delivery of the checkpoint at size {size} failed: {e}"));
                }
            }
            (Ok(_), Sent::File(_)) => st.files_pending = st.files_pending.saturating_sub(1),
            (Err((e, _)), Sent::File(seq)) => {
                st.files_pending = st.files_pending.saturating_sub(1);
                st.file_failed = Some(st.file_failed.map_or(seq, |f| f.min(seq)));
                if st.failed.is_none() {
                    st.failed = Some(format!("delivery of an evidence file of record {seq} failed: {e}"));
                }
            }
        }
    }
}

type Producer = BaseProducer<Deliveries>;

fn producer(cfg: &Config) -> Result<Producer, Error> {
    Ok(kafka::client_config(
        cfg,
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            // Never expire a message: a message that timed out could leave a gap in the topic (a later
            // one may still be written). An unreachable broker is waited for instead.
            ("message.timeout.ms", "0"),
            ("linger.ms", "5"),
            ("batch.size", "1000000"),
            ("batch.num.messages", "10000"),
            ("queue.buffering.max.messages", "200000"),
            ("queue.buffering.max.kbytes", "1048576"),
            // A record may hold a 1 MiB payload plus its header fields.
            ("message.max.bytes", "4194304"),
        ],
    )
    .create_with_context(Deliveries::default())?)
}

/// Records sent but not yet acknowledged, at most: bounds the memory librdkafka holds.
const WINDOW: u64 = 20_000;
/// Records read from the ledger at a time.
const CHUNK: u64 = 1_000;
/// Without an acknowledgement for this long, the ledger is closed so that other processes can use
/// it while the publisher waits for the broker.
const RELEASE_AFTER: Duration = Duration::from_millis(500);

/// The ledger, opened when needed and closed whenever the publisher would hold it while waiting.
struct Store<'a> {
    data: &'a Path,
    ledger: Option<Ledger>,
}

impl Store<'_> {
    fn get(&mut self) -> Result<&Ledger, Error> {
        if self.ledger.is_none() {
            // Read-write: issuing checkpoints needs the signing key.
            self.ledger = Some(Ledger::open(self.data, relic_ledger::policy::closed())?);
        }
        self.ledger.as_ref().ok_or_else(|| Error::Kafka("the ledger is not open".into()))
    }

    fn release(&mut self) {
        self.ledger = None;
    }

    /// The log's size, if the ledger is open; otherwise unknown (assume there is more).
    fn size(&self) -> u64 {
        self.ledger.as_ref().map_or(u64::MAX, Ledger::size)
    }
}

/// One connection's worth of publishing: re-synchronise, then stream records, moving the cursor and
/// publishing a checkpoint every `batch` acknowledged records and whenever everything is acknowledged.
fn session(
    data: &Path,
    cfg: &Config,
    opts: &PublishOptions,
    progress: &mut dyn FnMut(Progress),
    summary: &mut Summary,
    last_progress: &mut Instant,
) -> Result<(), Error> {
    // The producer first: it connects and obtains its producer ID while the topics are looked at.
    let producer = producer(cfg)?;
    kafka::ensure_topics(cfg, &[&cfg.topic, &cfg.checkpoint_topic, &cfg.evidence_topic])?;
    let consumer = kafka::consumer(cfg)?;
    let tail = topic_tail(&consumer, cfg)?;
    // The size of the last checkpoint in the topic (as the topic says, or acknowledged since), and
    // of the last one sent.
    let mut checkpoint_in_topic = last_checkpoint_size(&consumer, cfg)?;
    let mut checkpoint_sent: Option<u64> = None;
    // The end the broker lists for the topic never decreases, unless it lost records.
    let listed_end =
        |c: &rdkafka::consumer::BaseConsumer| -> Result<i64, Error> { Ok(kafka::watermarks(c, &cfg.topic)?.map_or(0, |w| w.1)) };
    let mut expected_end = listed_end(&consumer)?;

    let mut store = Store { data, ledger: None };
    let (size, cursor) = {
        let l = store.get()?;
        (l.size(), outbox::published(l)?)
    };
    let start = resume_at(&tail, cfg, store.get()?, cursor, progress)?;
    if start < cursor {
        outbox::set_published(store.get()?, start)?;
        progress(Progress::Notice(format!(
            "the topic ends before record {start}, but the cursor says {cursor} were published: the broker lost records; re-sending them"
        )));
    }
    progress(Progress::Synced { size, cursor, start });
    producer.context().state().next = start;
    let batch = opts.batch.max(1) as u64;
    // Records delivered before a crash but not counted by the cursor: count them once the evidence
    // files they name are delivered again (their delivery reports may have been lost with them).
    let committed_from = cursor.min(start);
    for item in store.get()?.records(committed_from).take((start - committed_from) as usize) {
        let (seq, bytes) = item?;
        let r = Record::decode(&bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
        send_files(&producer, cfg, data, seq, &r, progress)?;
    }
    summary.cursor = committed_from;

    let (mut sent, mut committed) = (start, committed_from);
    let mut reports = 0u64;
    let mut last_report = Instant::now();
    loop {
        // Keep the window full, unless the broker stopped answering (then the ledger stays closed).
        let acked_so_far = producer.context().state().next;
        let stalled = producer.in_flight_count() > 0 && last_report.elapsed() > RELEASE_AFTER;
        if !stalled && sent - acked_so_far < WINDOW && sent < store.size() {
            let l = store.get()?;
            let n = l.size().saturating_sub(sent).min(CHUNK);
            for item in l.records(sent).take(n as usize) {
                let (seq, bytes) = item?;
                send_record(&producer, cfg, data, seq, &bytes, progress)?;
                sent = seq + 1;
            }
        }
        let waiting = stalled || sent >= store.size() || sent - acked_so_far >= WINDOW;
        producer.poll(if waiting { Duration::from_millis(20) } else { Duration::ZERO });
        if let Some((code, reason)) = producer.client().fatal_error() {
            return Err(Error::Kafka(format!("the producer stopped: {reason} ({code:?})")));
        }
        let (acked, failed, now_reports, cp_acked, files_pending) = {
            let st = producer.context().state();
            // The cursor never passes a record whose evidence file failed.
            (st.next.min(st.file_failed.unwrap_or(u64::MAX)), st.failed.clone(), st.reports, st.checkpoint_acked, st.files_pending)
        };
        if now_reports != reports {
            reports = now_reports;
            last_report = Instant::now();
            *last_progress = last_report;
        }
        let all_acked = acked == sent && sent == store.size() && files_pending == 0;
        // Evidence files in flight hold the cursor back (they are few: one or two per evidence event).
        let may_commit = files_pending == 0 || failed.is_some();
        if acked > committed && may_commit && (acked >= committed + batch || all_acked || failed.is_some()) {
            // The cursor moves only over acknowledged records; then the checkpoint at that size.
            let l = store.get()?;
            outbox::set_published(l, acked)?;
            summary.sent += acked - committed;
            summary.cursor = acked;
            progress(Progress::Published { from: committed, to: acked });
            committed = acked;
            if failed.is_none() {
                // Without its quorum the checkpoint waits for a later batch, or the end.
                if let Ok(note) = publishable(l, opts, acked, progress)? {
                    send_checkpoint(&producer, cfg, acked, &note)?;
                    checkpoint_sent = Some(acked);
                }
            }
        }
        if let Some(f) = failed {
            return Err(Error::Kafka(f));
        }
        if cp_acked.is_some() && cp_acked != summary.checkpoint {
            summary.checkpoint = cp_acked;
            checkpoint_in_topic = cp_acked;
            progress(Progress::Checkpoint { size: cp_acked.unwrap_or_default() });
        }
        let checkpoint_done = committed == 0 || checkpoint_in_topic == Some(committed);
        if all_acked && !checkpoint_done && checkpoint_sent != Some(committed) {
            // Everything was published before, but the checkpoint at this size is not in the topic.
            match publishable(store.get()?, opts, committed, progress)? {
                Ok(note) => {
                    send_checkpoint(&producer, cfg, committed, &note)?;
                    checkpoint_sent = Some(committed);
                }
                Err(why) if !opts.follow => return Err(why.into()),
                Err(_) => {
                    // Asked again after a pause (the witnesses may come back), or with more records.
                    store.release();
                    std::thread::sleep(opts.interval);
                }
            }
            continue;
        }
        if all_acked && checkpoint_done {
            if !opts.follow {
                return Ok(());
            }
            // Idle: let other processes use the ledger, then look again.
            store.release();
            std::thread::sleep(opts.interval);
            *last_progress = Instant::now();
            let end = listed_end(&consumer)?;
            if end < expected_end {
                return Err(Error::Kafka(format!(
                    "topic {} now ends at offset {end}, it ended at {expected_end}: the broker lost records",
                    cfg.topic
                )));
            }
            expected_end = end;
            store.get()?;
            continue;
        }
        if last_report.elapsed() > RELEASE_AFTER {
            // The broker is slow or away: do not keep the ledger from others meanwhile.
            store.release();
            if let Some(limit) = opts.retry_for {
                if last_progress.elapsed() > limit {
                    return Err(Error::GaveUp {
                        seconds: limit.as_secs(),
                        last: format!("the broker acknowledged nothing; {} messages still waiting", producer.in_flight_count()),
                    });
                }
            }
        }
    }
}

/// Sends the evidence files `r` names to the evidence topic (key: the file's relative path).
fn send_files(producer: &Producer, cfg: &Config, data: &Path, seq: u64, r: &Record, progress: &mut dyn FnMut(Progress)) -> Result<(), Error> {
    for name in evidence::files_named_by(r) {
        let path = data.join(&name);
        let bytes = match std::fs::read(&path) {
            Ok(b) if b.len() <= evidence::MAX_FILE => b,
            Ok(b) => {
                progress(Progress::Notice(format!("{name} ({} bytes, named by record {seq}) is too large to publish; not sent", b.len())));
                continue;
            }
            Err(e) => {
                progress(Progress::Notice(format!("{}: {e}; record {seq} names it, it is not sent", path.display())));
                continue;
            }
        };
        producer.context().state().files_pending += 1;
        let mut msg = BaseRecord::with_opaque_to(&cfg.evidence_topic, Box::new(Sent::File(seq)))
            .partition(PARTITION)
            .key(name.as_bytes())
            .payload(bytes.as_slice());
        loop {
            match producer.send(msg) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), m)) => {
                    msg = m;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    producer.context().state().files_pending -= 1;
                    return Err(e.into());
                }
            }
        }
    }
    Ok(())
}

fn send_record(producer: &Producer, cfg: &Config, data: &Path, seq: u64, bytes: &[u8], progress: &mut dyn FnMut(Progress)) -> Result<(), Error> {
    let r = Record::decode(bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
    // The files an evidence event names go first, so that a consumer can find them with the event.
    send_files(producer, cfg, data, seq, &r, progress)?;
    let (seq_text, key_id) = (seq.to_string(), key_id_hex(&r.key_id));
    let headers = OwnedHeaders::new_with_capacity(3)
        .insert(Header { key: "seq", value: Some(&seq_text) })
        .insert(Header { key: "kind", value: Some(&r.kind) })
        .insert(Header { key: "key_id", value: Some(&key_id) });
    let mut msg = BaseRecord::with_opaque_to(&cfg.topic, Box::new(Sent::Record(seq)))
        .partition(PARTITION)
        .key(r.subject.as_bytes())
        .payload(bytes)
        .headers(headers);
    loop {
        match producer.send(msg) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), m)) => {
                msg = m;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}

/// The checkpoint at `size` as it may be published: the log's signed note, or with a witness
/// policy, the one a quorum of witnesses cosigned. `Err(why)` (reported) when they did not: the
/// checkpoint is not published.
fn publishable(l: &Ledger, opts: &PublishOptions, size: u64, progress: &mut dyn FnMut(Progress)) -> Result<Result<String, relic_ledger::Error>, Error> {
    let transport = match opts.witnesses.as_deref() {
        Some(t) => t,
        None if witnesses::Policy::load(l.dir())?.is_none() => return Ok(Ok(l.checkpoint(Some(size))?.note)),
        None => return Err(Error::Client(format!("{} has a witness policy, and this publisher no way to reach witnesses", l.dir().display()))),
    };
    match witnesses::publishable(l, transport, size) {
        Ok(w) => {
            for (name, why) in &w.refusals {
                progress(Progress::Notice(format!("witness {name} did not cosign the checkpoint at size {size}: {why}")));
            }
            Ok(Ok(w.note))
        }
        Err(e @ relic_ledger::Error::Unwitnessed { .. }) => {
            progress(Progress::Notice(e.to_string()));
            Ok(Err(e))
        }
        Err(e) => Err(e.into()),
    }
}

fn send_checkpoint(producer: &Producer, cfg: &Config, size: u64, note: &str) -> Result<(), Error> {
    let size_text = size.to_string();
    let headers = OwnedHeaders::new_with_capacity(1).insert(Header { key: "size", value: Some(&size_text) });
    let msg: BaseRecord<'_, [u8], [u8], Box<Sent>> =
        BaseRecord::with_opaque_to(&cfg.checkpoint_topic, Box::new(Sent::Checkpoint(size)))
            .partition(PARTITION)
            .payload(note.as_bytes())
            .headers(headers);
    producer.send(msg).map_err(|(e, _)| Error::from(e))
}

/// The first and last messages of the events topic, read before the ledger is opened.
struct Tail {
    low: i64,
    /// The message at offset 0, if the topic still starts there.
    first: Option<Vec<u8>>,
    /// The last message and its offset; `None` when the topic is empty.
    last: Option<(i64, Vec<u8>)>,
}

fn topic_tail(consumer: &rdkafka::consumer::BaseConsumer, cfg: &Config) -> Result<Tail, Error> {
    let topic = &cfg.topic;
    let Some((low, _)) = kafka::watermarks(consumer, topic)? else { return Ok(Tail { low: 0, first: None, last: None }) };
    let last = kafka::last_message(consumer, topic)?;
    let first = match (&last, low) {
        (Some(_), 0) => {
            Some(kafka::read_at(consumer, topic, 0)?.ok_or_else(|| Error::Kafka(format!("could not read offset 0 of topic {topic}")))?)
        }
        _ => None,
    };
    Ok(Tail { low, first, last })
}

/// Where publishing resumes: one past the last record the topic holds, after checking that the
/// topic's first and last messages are this log's records.
fn resume_at(tail: &Tail, cfg: &Config, l: &Ledger, cursor: u64, progress: &mut dyn FnMut(Progress)) -> Result<u64, Error> {
    let topic = &cfg.topic;
    let Some((last_offset, last)) = &tail.last else { return Ok(0) };
    // Some(seq): the message is this log's record seq; None: it is not a record at all.
    let ours = |offset: i64, value: &[u8]| -> Result<Option<u64>, Error> {
        let Ok(rec) = Record::decode(value) else { return Ok(None) };
        if rec.seq >= l.size() || l.record_bytes(rec.seq)? != value {
            return Err(Error::Topic {
                topic: topic.clone(),
                reason: format!("offset {offset} holds a record {} that is not this log's: is another log published to it?", rec.seq),
            });
        }
        Ok(Some(rec.seq))
    };
    if let (0, Some(first)) = (tail.low, &tail.first) {
        match ours(0, first)? {
            Some(0) => {}
            Some(s) => {
                progress(Progress::Notice(format!("topic {topic} starts at record {s}, not 0: publishing again from record 0")));
                return Ok(0);
            }
            None => progress(Progress::Notice(format!("offset 0 of topic {topic} is not a relic record"))),
        }
    }
    match ours(*last_offset, last)? {
        Some(seq) => Ok(seq + 1),
        None => {
            progress(Progress::Notice(format!(
                "the last message of topic {topic} is not a relic record; resuming from the cursor ({cursor})"
            )));
            Ok(cursor)
        }
    }
}

/// The size the last message of the checkpoint topic claims (unverified; only decides whether the
/// current size needs a checkpoint published).
fn last_checkpoint_size(consumer: &rdkafka::consumer::BaseConsumer, cfg: &Config) -> Result<Option<u64>, Error> {
    let Some((_, value)) = kafka::last_message(consumer, &cfg.checkpoint_topic)? else { return Ok(None) };
    let text = String::from_utf8_lossy(&value);
    Ok(text.rfind("\n\n").and_then(|i| Checkpoint::parse_body(&text[..i + 1]).ok()).map(|c| c.size))
}
