//! The grammar of the Kafka commands (clap): `publish`, `mirror`, `subscribe`. Nothing here does any work.

use std::path::PathBuf;

use clap::Args;

/// Where the log goes over Kafka.
#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "RELIC_BROKERS")]
    pub brokers: String,
    /// The topic of the records (the whole log is on its partition 0).
    #[arg(long, default_value = relic_relay::DEFAULT_TOPIC)]
    pub topic: String,
    /// The topic of the signed checkpoints.
    #[arg(long, default_value = relic_relay::DEFAULT_CHECKPOINT_TOPIC)]
    pub checkpoint_topic: String,
    /// The topic of the evidence documents and report artifacts the records name.
    #[arg(long, default_value = relic_relay::DEFAULT_EVIDENCE_TOPIC)]
    pub evidence_topic: String,
    /// A librdkafka property for the client (e.g. `-X request.timeout.ms=5000`); repeatable.
    #[arg(short = 'X', long = "kafka-option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

/// `relic publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Keep running: publish records as they are appended.
    #[arg(long)]
    pub follow: bool,
    /// Records per batch: the cursor moves and a checkpoint is published after each.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,
    /// With --follow, how often to look for new records, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,
    /// Give up after this many seconds without the broker acknowledging anything (0: never;
    /// default: 300, or never with --follow).
    #[arg(long)]
    pub retry_for: Option<u64>,
}

/// `relic mirror`.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Keep running: mirror records as they are published. Without it, stop once caught up with the
    /// end of the topic.
    #[arg(long)]
    pub follow: bool,
    /// The origin's first verifier key (text or a file holding it), obtained out of band: record 0
    /// must introduce it.
    #[arg(long)]
    pub key: Option<String>,
}

/// `relic subscribe`.
#[derive(Debug, Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Only events of these kinds; `*` matches anything (e.g. `release.*`); repeatable.
    #[arg(long)]
    pub kind: Vec<String>,
    /// Only events about this project (`group/project`).
    #[arg(long)]
    pub project: Option<String>,
    /// Only events from this sequence number on.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Keep the position here and resume from it.
    #[arg(long)]
    pub position_file: Option<PathBuf>,
    /// Stop once caught up with the end of the topic, instead of waiting for new events.
    #[arg(long)]
    pub once: bool,
    /// The origin's first verifier key (text or a file holding it): record 0 must introduce it.
    #[arg(long)]
    pub key: Option<String>,
}
