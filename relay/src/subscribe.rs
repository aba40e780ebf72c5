//! Subscribing: verified events, as they are published, for programs that react to release changes.
//! A record whose payload keeps long texts beside the log is delivered with them put back, read
//! from the evidence topic and checked against their digests.
//!
//! What this is: the consumer of `relic subscribe`. It reads partition 0 of the events topic and
//! checks every record with [`relic_ledger::chain::Chain`]: strict decoding, sequence number,
//! predecessor link back to record 0's genesis link, time order, the signing key from the key history
//! replayed from the records, and the signature. Only a record that passes reaches the callback, and
//! only if it matches the [`Filter`]. A record that fails stops the subscriber with an error naming
//! its sequence number. A record at a position already passed is dropped (a subscriber keeps no copy
//! of the log, so it cannot tell a conflicting re-send from an exact one: the first verified record at
//! each position is the one it delivered).
//!
//! Its position — the chain state after the last record checked (size, link, last time, key
//! history), about a hundred bytes per key — is saved in a file after every batch, atomically
//! (written aside, synced, renamed). A restarted subscriber resumes there, without re-reading the
//! log; delivery is at least once: events delivered after the last save are delivered again after a
//! crash, and consumers can drop them by sequence number.
//!
//! What this is not: tree-root verification. A subscriber checks that each event belongs to one
//! unbroken chain signed by the log's keys; checking published checkpoints needs the records' tree
//! hashes, which a mirror keeps (`relic mirror`, then read the mirror).

// Kind patterns match as protected-tag patterns do: `*` is any run of characters (including none).
use relic_domain::decide::wildcard_match as glob;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rdkafka::consumer::Consumer as _;
use rdkafka::error::KafkaError;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use relic_ledger::chain::{Chain, ChainState, Step};
use relic_ledger::mirror::MirrorError;
use relic_ledger::note::VerifierKey;
use relic_ledger::chain::KeyEntry;
use relic_ledger::Record;

use crate::kafka::{self, PARTITION};
use crate::{Config, Error};

/// The format marker of a position file.
pub const POSITION_FORMAT: &str = "relic-subscriber-position/v1";

/// Which verified events to deliver.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Kind patterns (`*` matches any run of characters, e.g. `release.*`); empty: every kind.
    pub kinds: Vec<String>,
    /// Only events about this project: the subject is `P` or `P@…`, or the payload's `project` is `P`.
    pub project: Option<String>,
    /// Only events from this sequence number on.
    pub from: u64,
}

impl Filter {
    pub fn matches(&self, r: &Record) -> bool {
        if r.seq < self.from {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| glob(k, &r.kind)) {
            return false;
        }
        match &self.project {
            None => true,
            Some(p) => {
                r.subject == *p
                    || r.subject.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('@'))
                    || r.payload_json().get("project").and_then(|v| v.as_str()) == Some(p.as_str())
            }
        }
    }
}

/// How to subscribe.
#[derive(Debug, Clone, Default)]
pub struct SubscribeOptions {
    /// Keep running; without it, stop once caught up with the end of the topic.
    pub follow: bool,
    /// Where the position is kept; without it every run starts from record 0.
    pub position: Option<PathBuf>,
    /// The origin's first verifier key, obtained out of band: record 0 must introduce it.
    pub pinned: Option<VerifierKey>,
}

/// A run's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records verified (delivered or filtered out) during this run.
    pub verified: u64,
    /// Events handed to the callback.
    pub delivered: u64,
    /// The number of records verified so far, over every run: where the next run resumes.
    pub position: u64,
}

/// The long texts records keep beside the log (`schemas/record-v1.md` §Texts kept beside the log),
/// read from the evidence topic when a delivered record first needs them: the publisher sends each
/// text before the first record that names it.
struct Texts {
    consumer: rdkafka::consumer::BaseConsumer,
    read: std::collections::HashMap<String, Vec<u8>>,
}

/// How long a record waits for a text it names to be read from the evidence topic.
const TEXT_WAIT: Duration = Duration::from_secs(10);

impl Texts {
    fn open(cfg: &Config) -> Result<Self, Error> {
        let consumer = kafka::consumer(cfg)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&cfg.evidence_topic, PARTITION, Offset::Beginning)?;
        consumer.assign(&tpl)?;
        Ok(Texts { consumer, read: std::collections::HashMap::new() })
    }

    /// The bytes of the text `digest`, checked against it; reads the topic on until it is there.
    fn get(&mut self, cfg: &Config, digest: &str) -> Result<Vec<u8>, String> {
        let name = format!("texts/{digest}");
        let started = std::time::Instant::now();
        while !self.read.contains_key(&name) {
            if started.elapsed() > TEXT_WAIT {
                return Err(format!("not on topic {} after {} s", cfg.evidence_topic, TEXT_WAIT.as_secs()));
            }
            if let Some(Ok(msg)) = self.consumer.poll(Duration::from_millis(200)) {
                let key = msg.key().map(|k| String::from_utf8_lossy(k).to_string()).unwrap_or_default();
                let bytes = msg.payload().unwrap_or_default();
                // Only texts, and only those whose bytes hash to the digest their name carries.
                if key.starts_with("texts/") && crate::evidence::check(&key, bytes).is_ok() {
                    self.read.insert(key, bytes.to_vec());
                }
            }
        }
        Ok(self.read.get(&name).cloned().unwrap_or_default())
    }
}

/// The payload of `record` as a reader sees it: the texts it refers to put back (checked), or
/// `None` when it refers to none.
fn resolved(texts: &mut Option<Texts>, cfg: &Config, record: &Record) -> Result<Option<serde_json::Value>, Error> {
    if !relic_ledger::texts::may_refer(&record.payload) {
        return Ok(None);
    }
    if texts.is_none() {
        *texts = Some(Texts::open(cfg)?);
    }
    let Some(t) = texts.as_mut() else { return Ok(None) };
    let mut payload = record.payload_json();
    relic_ledger::texts::resolve(&mut payload, &mut |d| t.get(cfg, d))
        .map_err(|e| Error::Topic { topic: cfg.evidence_topic.clone(), reason: format!("record {}: {e}", record.seq) })?;
    Ok(Some(payload))
}

/// Consumes the topic, verifying every record, and calls `deliver` for each one that matches
/// `filter`, with its payload's long texts put back (`None`: the payload refers to none).
pub fn subscribe(
    cfg: &Config,
    opts: &SubscribeOptions,
    filter: &Filter,
    deliver: &mut dyn FnMut(&Record, Option<&serde_json::Value>) -> std::io::Result<()>,
) -> Result<Summary, Error> {
    let mut texts = None;
    let mut chain = match &opts.position {
        Some(p) if p.exists() => Chain::resume(load_position(p)?, opts.pinned.clone()).map_err(|e| Error::Position {
            path: p.display().to_string(),
            reason: e.to_string(),
        })?,
        _ => Chain::new(opts.pinned.clone()),
    };
    let consumer = kafka::consumer(cfg)?;
    let listed = kafka::watermarks(&consumer, &cfg.topic)?;
    // The position is the number of records verified: the first copy of record n is at offset n or
    // later; never past the listed end (a broker that lost records holds fewer messages).
    let start = listed.map_or(0, |(_, high)| (chain.size() as i64).min(high));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&cfg.topic, PARTITION, Offset::Offset(start))?;
    consumer.assign(&tpl)?;
    let mut pos = start;
    // Without follow: done at the end of the partition, at or past the end listed now.
    let mut done = !opts.follow && listed.is_none();
    let mut summary = Summary { position: chain.size(), ..Summary::default() };
    let mut saved = chain.size();
    while !done {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                pos = pos.max(msg.offset() + 1);
                let bytes = msg.payload().unwrap_or_default();
                match chain.accept(bytes) {
                    Ok(Step::Next { record, .. }) => {
                        summary.verified += 1;
                        if filter.matches(&record) {
                            let payload = resolved(&mut texts, cfg, &record)?;
                            deliver(&record, payload.as_ref()).map_err(Error::Output)?;
                            summary.delivered += 1;
                        }
                    }
                    Ok(Step::Earlier(_)) => {}
                    Err(e) => {
                        save(opts, &chain, &mut saved)?;
                        return Err(Error::Rejected { topic: cfg.topic.clone(), source: MirrorError::Record(e) });
                    }
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {
                save(opts, &chain, &mut saved)?;
                done = !opts.follow && pos >= listed.map_or(0, |w| w.1);
            }
            Some(Err(e)) if kafka::is_transient_consumer_error(&e) => {}
            Some(Err(e)) => return Err(e.into()),
            None => save(opts, &chain, &mut saved)?,
        }
    }
    save(opts, &chain, &mut saved)?;
    summary.position = chain.size();
    Ok(summary)
}

fn save(opts: &SubscribeOptions, chain: &Chain, saved: &mut u64) -> Result<(), Error> {
    let (Some(path), Some(state)) = (&opts.position, chain.state()) else { return Ok(()) };
    if state.size == *saved {
        return Ok(());
    }
    save_position(path, state)?;
    *saved = state.size;
    Ok(())
}


/// 32 bytes in lower-case hex.
fn unhex32(s: &str) -> Option<[u8; 32]> {
    relic_ledger::hex::decode(s)?.try_into().ok()
}

/// Writes the position atomically: to a file beside it, synced, then renamed over it.
pub fn save_position(path: &Path, state: &ChainState) -> Result<(), Error> {
    let v = serde_json::json!({
        "format": POSITION_FORMAT,
        "origin": state.origin,
        "next": state.size,
        "link": relic_ledger::hex::encode(&state.link),
        "last_time_us": state.last_time_us,
        "keys": state.keys.iter().map(|k| serde_json::json!({"key": k.key.to_string(), "from_seq": k.from_seq})).collect::<Vec<_>>(),
    });
    relic_store::fs::write_durably(path, format!("{v}\n").as_bytes(), None)
        .map_err(|e| Error::Position { path: path.display().to_string(), reason: e.to_string() })
}

/// Reads a position file written by [`save_position`].
pub fn load_position(path: &Path) -> Result<ChainState, Error> {
    let bad = |reason: &str| Error::Position { path: path.display().to_string(), reason: reason.to_string() };
    let text = std::fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|_| bad("not JSON"))?;
    if v.get("format").and_then(|f| f.as_str()) != Some(POSITION_FORMAT) {
        return Err(bad(&format!("not a {POSITION_FORMAT} file")));
    }
    let keys = v
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| bad("no keys"))?
        .iter()
        .map(|k| {
            Some(KeyEntry {
                key: VerifierKey::parse(k.get("key")?.as_str()?).ok()?,
                from_seq: k.get("from_seq")?.as_u64()?,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("malformed key list"))?;
    Ok(ChainState {
        origin: v.get("origin").and_then(|o| o.as_str()).ok_or_else(|| bad("no origin"))?.to_string(),
        size: v.get("next").and_then(|n| n.as_u64()).ok_or_else(|| bad("no next"))?,
        link: v.get("link").and_then(|l| l.as_str()).and_then(unhex32).ok_or_else(|| bad("malformed link"))?,
        last_time_us: v.get("last_time_us").and_then(|t| t.as_i64()).ok_or_else(|| bad("no last_time_us"))?,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_patterns() {
        assert!(glob("release.*", "release.created"));
        assert!(glob("*", "anything.at_all"));
        assert!(glob("*.created", "release.created"));
        assert!(glob("release.created", "release.created"));
        assert!(!glob("release.*", "freeze.created"));
        assert!(!glob("release.created", "release.created2"));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(!glob("ab*ba", "aba"));
    }
}
