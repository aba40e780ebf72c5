//! relic over Kafka: the ledger node publishes every record in order; anywhere else a mirror rebuilds
//! a verified copy and subscribers react to verified events, trusting neither the network nor the
//! broker.
//!
//! - [`publish`]: sends the log's records, in sequence order, to one partition of a topic with an
//!   idempotent producer, advancing the ledger's durable publish cursor
//!   ([`relic_ledger::outbox`]) only after the broker acknowledged delivery; issues and publishes a
//!   checkpoint after each batch.
//! - [`mirror`]: consumes that topic (and the checkpoint topic) from where it stopped, verifies every
//!   record and every checkpoint ([`relic_ledger::mirror`]) and stores them in a mirror ledger that
//!   every read command can use.
//! - [`subscribe`]: consumes the topic, verifies the signed chain record by record
//!   ([`relic_ledger::chain`]) and hands the events that match a filter to a callback, resuming from a
//!   position it keeps in a file.
//!
//! Wire format (one message per record, all on partition 0 of the events topic): key = the record's
//! subject; headers `seq` (decimal), `kind`, `key_id` (hex) — informative only, never trusted; value =
//! the record's exact bytes (`schemas/record-v1.md`). Checkpoints go to partition 0 of the checkpoint
//! topic: value = the signed note text, header `size`. The evidence documents and report artifacts
//! that `evidence.collected` records name by BLAKE3 digest go to partition 0 of the evidence topic,
//! sent before the record: key = `evidence/<sha>.json` or `artifacts/<blake3>`, value = the bytes.
//! Consumers trust only what they verify.
//!
//! Consumers use explicit partition assignment and keep their positions in relic's own stores (the
//! mirror's size, the subscriber's position file), never in broker consumer groups.

mod evidence;
mod kafka;
pub mod mirror;
pub mod publish;
pub mod subscribe;

use relic_ledger::mirror::MirrorError;

/// Where the log goes: brokers and topics, plus any librdkafka properties.
#[derive(Debug, Clone)]
pub struct Config {
    /// `bootstrap.servers`: `host:port[,host:port…]`.
    pub brokers: String,
    /// The topic of the records (partition 0 holds the whole log).
    pub topic: String,
    /// The topic of the signed checkpoints.
    pub checkpoint_topic: String,
    /// The topic of the evidence documents and report artifacts that records name by digest.
    pub evidence_topic: String,
    /// librdkafka properties applied after relic's own (timeouts, client id, …).
    pub options: Vec<(String, String)>,
}

impl Config {
    /// The defaults: topics `relic.events` and `relic.checkpoints`.
    pub fn new(brokers: &str) -> Self {
        Self {
            brokers: brokers.to_string(),
            topic: DEFAULT_TOPIC.to_string(),
            checkpoint_topic: DEFAULT_CHECKPOINT_TOPIC.to_string(),
            evidence_topic: DEFAULT_EVIDENCE_TOPIC.to_string(),
            options: Vec::new(),
        }
    }
}

pub const DEFAULT_TOPIC: &str = "relic.events";
pub const DEFAULT_CHECKPOINT_TOPIC: &str = "relic.checkpoints";
pub const DEFAULT_EVIDENCE_TOPIC: &str = "relic.evidence";

/// Everything publishing, mirroring or subscribing can fail with; each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] relic_ledger::Error),
    /// A record or checkpoint received from the broker failed verification; it names the sequence
    /// number (or checkpoint size) and nothing from it on was stored or delivered.
    #[error("{topic}: {source}")]
    Rejected { topic: String, source: MirrorError },
    #[error(transparent)]
    Mirror(MirrorError),
    /// A file on the evidence topic does not hash to the digest its name carries (or has no such name).
    #[error("{topic}: offset {offset}: {reason}")]
    Evidence { topic: String, offset: i64, reason: String },
    /// The broker or the network failed; publishing retries these.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The Kafka client cannot work as configured (a bad `-X` option, for instance); not retried.
    #[error("kafka client: {0}")]
    Client(String),
    /// The topic holds something relic must not build on (another log's records).
    #[error("topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    #[error("gave up after {seconds} s of failures: {last}")]
    GaveUp { seconds: u64, last: String },
    #[error("position file {path}: {reason}")]
    Position { path: String, reason: String },
    #[error("output: {0}")]
    Output(std::io::Error),
}

impl Error {
    /// True for failures of the broker or the network, which a later attempt may not meet.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Kafka(_) | Error::Ledger(relic_ledger::Error::Store(relic_ledger::StoreError::Locked(_))))
    }
}

impl From<rdkafka::error::KafkaError> for Error {
    fn from(e: rdkafka::error::KafkaError) -> Self {
        use rdkafka::error::KafkaError as K;
        match e {
            K::ClientConfig(..) | K::ClientCreation(_) | K::Subscription(_) | K::AdminOpCreation(_) | K::Nul(_) => {
                Error::Client(e.to_string())
            }
            other => Error::Kafka(other.to_string()),
        }
    }
}

impl From<MirrorError> for Error {
    fn from(e: MirrorError) -> Self {
        match e {
            MirrorError::Ledger(l) => Error::Ledger(l),
            other => Error::Mirror(other),
        }
    }
}
