//! Mirroring: rebuild a verified copy of a published log in a ledger directory of its own.
//!
//! What this is: the transport side of `relic mirror`. It consumes partition 0 of the events topic
//! from the mirror's own size on (its position is its size: nothing is kept in the broker), and
//! the whole checkpoint topic, and hands them to [`relic_ledger::mirror::Mirror`], which verifies every
//! record (strict decoding, sequence number, predecessor link, time order, signing key from the
//! replayed key history, signature) and every checkpoint (signature, and root equal to the root it
//! recomputes at that size) before storing anything. A forged, altered, reordered or missing record,
//! or a different record claiming a sequence number already mirrored, stops the mirror with an error
//! naming the sequence number; the records before it are kept. Exact re-sends are dropped.
//!
//! Without `follow` it stops once it has read both topics to their ends (the end-of-partition event,
//! at or past the high watermark the broker listed when it started). With `follow` it runs until stopped, and closes its store whenever no message arrived for
//! a moment, so that read commands (`relic log`, `verify`, …) can open the mirror meanwhile.
//!
//! It also stores, beside the log, the evidence documents and report artifacts published on the
//! evidence topic, each only if its bytes hash to the digest its name carries.
//!
//! What this is not: a publisher. A mirror holds no key; it serves only the checkpoints its origin
//! published.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use relic_ledger::merkle::Hash;
use relic_ledger::mirror::{CheckpointOutcome, Mirror, MirrorError};
use relic_ledger::note::VerifierKey;

use crate::evidence;
use crate::kafka::{self, PARTITION};
use crate::{Config, Error};

/// How to mirror.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// Keep running: mirror new records as they are published.
    pub follow: bool,
    /// The origin's first verifier key, obtained out of band: record 0 must introduce it.
    pub pinned: Option<VerifierKey>,
    /// Records verified and written per batch (one atomic group and one flush each), at most.
    pub batch: usize,
    /// With `follow`, close the store after this long without messages.
    pub idle: Duration,
    /// Set from elsewhere (another thread, or the progress callback) to stop a following mirror;
    /// it stops after storing what it verified.
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for MirrorOptions {
    fn default() -> Self {
        Self { follow: false, pinned: None, batch: 8192, idle: Duration::from_secs(1), stop: None }
    }
}

/// What the mirror is doing, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Records verified and stored; the mirror now holds `size`.
    Applied { size: u64, applied: u64, duplicates: u64 },
    /// A published checkpoint was verified and stored.
    Checkpoint { size: u64 },
    /// The broker is unreachable or slow; still trying.
    Waiting(String),
}

/// The mirror after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub origin: Option<String>,
    pub size: u64,
    pub root: Hash,
    /// Records verified and stored during this run.
    pub applied: u64,
    /// Exact re-sends dropped during this run.
    pub duplicates: u64,
    /// The largest size at which the mirror holds a verified checkpoint.
    pub checkpoint: Option<u64>,
    /// Checkpoints received that could not be checked yet (ahead of the mirror).
    pub pending_checkpoints: usize,
    /// Evidence documents and report artifacts stored during this run.
    pub files: u64,
}

/// How far a consumer has read a partition, and whether it has reached its end.
struct Reach {
    /// The next offset to read.
    pos: i64,
    /// Where the broker listed the end when the run started (a lower bound of the end).
    listed_end: i64,
    /// The end of the partition was reached, at or past `listed_end`, and nothing came since.
    done: bool,
}

impl Reach {
    /// `listed`: the topic's (low, high) watermarks, `None` if it does not exist (nothing to read).
    fn new(listed: Option<(i64, i64)>, start: i64) -> Self {
        Self { pos: start, listed_end: listed.map_or(0, |w| w.1), done: listed.is_none() }
    }
    fn arrived(&mut self, offset: i64) {
        self.pos = self.pos.max(offset + 1);
        self.done = false;
    }
    fn at_end(&mut self) {
        self.done = self.pos >= self.listed_end;
    }
}

/// Mirrors the topic into the ledger directory `data`.
pub fn mirror(data: &Path, cfg: &Config, opts: &MirrorOptions, progress: &mut dyn FnMut(Progress)) -> Result<Summary, Error> {
    let mut m = Some(Mirror::open(data, opts.pinned.clone())?);
    let size = m.as_ref().map_or(0, Mirror::size);
    let events = kafka::consumer(cfg)?;
    let checkpoints = kafka::consumer(cfg)?;
    let files = kafka::consumer(cfg)?;
    let events_listed = listed(&events, &cfg.topic, progress)?;
    let checkpoints_listed = listed(&checkpoints, &cfg.checkpoint_topic, progress)?;
    let files_listed = listed(&files, &cfg.evidence_topic, progress)?;
    // The mirror's position is its size: the first copy of record n is at offset n or later. Never
    // past the listed end, though: a broker that lost records holds fewer messages than that.
    let start = events_listed.map_or(0, |(_, high)| (size as i64).min(high));
    assign(&events, &cfg.topic, Offset::Offset(start))?;
    assign(&checkpoints, &cfg.checkpoint_topic, Offset::Beginning)?;
    assign(&files, &cfg.evidence_topic, Offset::Beginning)?;
    let mut ev = Reach::new(events_listed, start);
    let mut cp = Reach::new(checkpoints_listed, checkpoints_listed.map_or(0, |w| w.0));
    let mut fv = Reach::new(files_listed, files_listed.map_or(0, |w| w.0));
    let mut stored_files = 0u64;
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let (mut applied, mut duplicates) = (0u64, 0u64);
    let mut pending: Vec<String> = Vec::new();
    let mut last_message = Instant::now();

    let stopped = || opts.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));
    while (opts.follow || !(ev.done && cp.done && fv.done)) && !stopped() {
        // Evidence files: each checked against the digest its name carries, then stored beside the log.
        while let Some(item) = files.poll(Duration::ZERO) {
            match item {
                Ok(msg) => {
                    last_message = Instant::now();
                    fv.arrived(msg.offset());
                    let name = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
                    let bytes = msg.payload().unwrap_or_default();
                    evidence::check(&name, bytes).map_err(|reason| Error::Evidence {
                        topic: cfg.evidence_topic.clone(),
                        offset: msg.offset(),
                        reason,
                    })?;
                    let new = evidence::store(data, &name, bytes)
                        .map_err(relic_ledger::Error::from)?;
                    stored_files += u64::from(new);
                }
                Err(KafkaError::PartitionEOF(_)) => fv.at_end(),
                Err(e) if kafka::is_transient_consumer_error(&e) => progress(Progress::Waiting(e.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        // Checkpoints: whatever has arrived, each after the records received before it.
        while let Some(item) = checkpoints.poll(Duration::ZERO) {
            match item {
                Ok(msg) => {
                    last_message = Instant::now();
                    cp.arrived(msg.offset());
                    let mirror = reopen(&mut m, data, cfg, opts, &mut pending)?;
                    apply(mirror, &mut batch, cfg, progress, &mut applied, &mut duplicates)?;
                    let note = String::from_utf8_lossy(msg.payload().unwrap_or_default()).into_owned();
                    let outcome = mirror.import_checkpoint(&note).map_err(|e| rejected(cfg, e))?;
                    if let CheckpointOutcome::Stored(c) = outcome {
                        progress(Progress::Checkpoint { size: c.size });
                    }
                }
                Err(KafkaError::PartitionEOF(_)) => cp.at_end(),
                Err(e) if kafka::is_transient_consumer_error(&e) => progress(Progress::Waiting(e.to_string())),
                Err(e) => return Err(e.into()),
            }
        }
        match events.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                last_message = Instant::now();
                ev.arrived(msg.offset());
                let mirror = reopen(&mut m, data, cfg, opts, &mut pending)?;
                batch.push(msg.payload().unwrap_or_default().to_vec());
                if batch.len() >= opts.batch {
                    apply(mirror, &mut batch, cfg, progress, &mut applied, &mut duplicates)?;
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {
                if let Some(mirror) = m.as_mut() {
                    apply(mirror, &mut batch, cfg, progress, &mut applied, &mut duplicates)?;
                }
                ev.at_end();
            }
            Some(Err(e)) if kafka::is_transient_consumer_error(&e) => progress(Progress::Waiting(e.to_string())),
            Some(Err(e)) => return Err(e.into()),
            None => {
                if let Some(mirror) = m.as_mut() {
                    apply(mirror, &mut batch, cfg, progress, &mut applied, &mut duplicates)?;
                }
                if opts.follow && last_message.elapsed() >= opts.idle {
                    // Let read commands open the mirror while nothing arrives.
                    if let Some(mut closed) = m.take() {
                        closed.sync()?;
                        pending = closed.pending_checkpoints();
                    }
                }
            }
        }
    }
    let mirror = reopen(&mut m, data, cfg, opts, &mut pending)?;
    apply(mirror, &mut batch, cfg, progress, &mut applied, &mut duplicates)?;
    mirror.sync()?;
    Ok(Summary {
        origin: mirror.origin().map(str::to_string),
        size: mirror.size(),
        root: mirror.root(),
        applied,
        duplicates,
        checkpoint: mirror.latest_checkpoint()?,
        pending_checkpoints: mirror.pending_checkpoints().len(),
        files: stored_files,
    })
}

fn assign(consumer: &BaseConsumer, topic: &str, offset: Offset) -> Result<(), Error> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, PARTITION, offset)?;
    Ok(consumer.assign(&tpl)?)
}

/// A topic's listed watermarks (`None`: no such topic); the broker gets a few chances to answer.
fn listed(consumer: &BaseConsumer, topic: &str, progress: &mut dyn FnMut(Progress)) -> Result<Option<(i64, i64)>, Error> {
    let mut tries = 0;
    loop {
        match kafka::watermarks(consumer, topic) {
            Ok(w) => return Ok(w),
            Err(e) if tries < 2 => {
                progress(Progress::Waiting(e.to_string()));
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The open mirror, reopening it (and re-offering its pending checkpoints) if it was closed while idle.
fn reopen<'a>(
    m: &'a mut Option<Mirror>,
    data: &Path,
    cfg: &Config,
    opts: &MirrorOptions,
    pending: &mut Vec<String>,
) -> Result<&'a mut Mirror, Error> {
    if m.is_none() {
        let mut opened = Mirror::open(data, opts.pinned.clone())?;
        for note in pending.drain(..) {
            opened.import_checkpoint(&note).map_err(|e| rejected(cfg, e))?;
        }
        *m = Some(opened);
    }
    m.as_mut().ok_or_else(|| Error::Kafka("the mirror store is not open".into()))
}

fn apply(
    mirror: &mut Mirror,
    batch: &mut Vec<Vec<u8>>,
    cfg: &Config,
    progress: &mut dyn FnMut(Progress),
    applied: &mut u64,
    duplicates: &mut u64,
) -> Result<(), Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let before = mirror.size();
    let result = mirror.import(batch.iter().map(Vec::as_slice));
    batch.clear();
    let done = mirror.size() - before;
    *applied += done;
    match result {
        Ok(r) => {
            *duplicates += r.duplicates;
            if done > 0 || r.duplicates > 0 {
                progress(Progress::Applied { size: mirror.size(), applied: done, duplicates: r.duplicates });
            }
            Ok(())
        }
        Err(e) => {
            // The verified records before the bad one are kept: make sure they are on disk.
            mirror.sync()?;
            Err(rejected(cfg, e))
        }
    }
}

/// A verification failure names the topic it came from (a pending checkpoint fails when the records
/// arrive); other failures pass through.
fn rejected(cfg: &Config, e: MirrorError) -> Error {
    let topic = match &e {
        MirrorError::Record(_) => &cfg.topic,
        MirrorError::Checkpoint { .. } | MirrorError::MalformedCheckpoint(_) => &cfg.checkpoint_topic,
        MirrorError::Ledger(_) | MirrorError::NotAMirror(_) => return Error::from(e),
    };
    Error::Rejected { topic: topic.clone(), source: e }
}
