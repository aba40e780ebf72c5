//! The thin layer over librdkafka that the publisher, mirror and subscriber share: client
//! configuration, topic creation, watermarks, reading one message at an offset.
//! No relic rules live here.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use crate::{Config, Error};

/// The one partition that holds a whole log.
pub(crate) const PARTITION: i32 = 0;
/// How long a metadata or watermark query may take.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A client configuration: the brokers, then `settings` (relic's), then the user's options.
pub(crate) fn client_config(cfg: &Config, settings: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.brokers);
    for (k, v) in settings {
        c.set(*k, *v);
    }
    for (k, v) in &cfg.options {
        c.set(k, v);
    }
    c
}

/// A consumer for explicit partition assignment: no consumer group, no commits. Positions are kept
/// by relic (the mirror's size, the subscriber's position file).
pub(crate) fn consumer(cfg: &Config) -> Result<BaseConsumer, Error> {
    Ok(client_config(
        cfg,
        &[
            // librdkafka wants a group for assigned partitions too; nothing is ever committed to it.
            ("group.id", "relic"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // A position past the end of the topic (the broker lost records): start again from the
            // beginning; records already held are recognised and dropped.
            ("auto.offset.reset", "earliest"),
            // Reaching the end of a partition is reported: that, not the high watermark a broker
            // lists (some, like tansu, list the last batch's first offset + 1), says "caught up".
            ("enable.partition.eof", "true"),
            ("fetch.wait.max.ms", "50"),
            ("max.partition.fetch.bytes", "16777216"),
            ("fetch.max.bytes", "67108864"),
            ("receive.message.max.bytes", "100000000"),
            ("queued.max.messages.kbytes", "65536"),
        ],
    )
    .create()?)
}

/// Creates the topics with one partition if they do not exist. A broker that refuses (no
/// permission, topics managed elsewhere) is not an error here: producing will say what is wrong.
pub(crate) fn ensure_topics(cfg: &Config, topics: &[&str]) -> Result<(), Error> {
    let admin: AdminClient<DefaultClientContext> = client_config(cfg, &[]).create()?;
    let new: Vec<NewTopic> = topics.iter().map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1))).collect();
    let opts = AdminOptions::new().request_timeout(Some(QUERY_TIMEOUT)).operation_timeout(Some(QUERY_TIMEOUT));
    match block_on(admin.create_topics(&new, &opts), QUERY_TIMEOUT + Duration::from_secs(1)) {
        Some(Ok(_)) | Some(Err(_)) => Ok(()),
        None => Err(Error::Kafka(format!("creating topics {topics:?} timed out"))),
    }
}

/// The low and high watermarks of partition 0 of `topic` as the broker lists them (the first offset
/// held, and the offset the next message will get); `None` if the topic does not exist.
///
/// The high watermark is only a lower bound of the end here: consumers take the end from the
/// end-of-partition event, and read forward from `high - 1` to find the last message.
pub(crate) fn watermarks(consumer: &BaseConsumer, topic: &str) -> Result<Option<(i64, i64)>, Error> {
    use rdkafka::error::KafkaError;
    match consumer.fetch_watermarks(topic, PARTITION, QUERY_TIMEOUT) {
        Ok(w) => Ok(Some(w)),
        Err(KafkaError::MetadataFetch(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownPartition)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads partition 0 of `topic` from `offset` to its end; returns the messages `keep` accepts, with
/// their offsets. Fails if the end is not reached within the query timeout.
fn read_to_end(consumer: &BaseConsumer, topic: &str, offset: i64, keep: &mut dyn FnMut(i64, &[u8]) -> bool) -> Result<(), Error> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, PARTITION, Offset::Offset(offset))?;
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + QUERY_TIMEOUT;
    let result = loop {
        if Instant::now() > deadline {
            break Err(Error::Kafka(format!("reading topic {topic} from offset {offset} did not reach its end in time")));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) if m.topic() == topic => {
                if !keep(m.offset(), m.payload().unwrap_or_default()) {
                    break Ok(());
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => break Ok(()),
            Some(Ok(_)) | None => {}
            Some(Err(e)) if is_transient_consumer_error(&e) => {}
            Some(Err(e)) => break Err(e.into()),
        }
    };
    consumer.unassign()?;
    result
}

/// The message at `offset` of partition 0 of `topic`, if the topic holds it.
pub(crate) fn read_at(consumer: &BaseConsumer, topic: &str, offset: i64) -> Result<Option<Vec<u8>>, Error> {
    let mut found = None;
    read_to_end(consumer, topic, offset, &mut |o, v| {
        if o == offset {
            found = Some(v.to_vec());
        }
        o < offset
    })?;
    Ok(found)
}

/// The last message of partition 0 of `topic`, with its offset: read from `high - 1` (the listed
/// high watermark) to the end of the partition.
pub(crate) fn last_message(consumer: &BaseConsumer, topic: &str) -> Result<Option<(i64, Vec<u8>)>, Error> {
    let Some((low, high)) = watermarks(consumer, topic)? else { return Ok(None) };
    if high <= low {
        return Ok(None);
    }
    let mut last = None;
    read_to_end(consumer, topic, high - 1, &mut |o, v| {
        last = Some((o, v.to_vec()));
        true
    })?;
    Ok(last)
}

/// Errors a consumer reports while it reconnects; polling goes on through them.
pub(crate) fn is_transient_consumer_error(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::KafkaError;
    match e {
        KafkaError::MessageConsumption(code) | KafkaError::Global(code) => matches!(
            code,
            RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
                | RDKafkaErrorCode::UnknownLeaderEpoch
                | RDKafkaErrorCode::FencedLeaderEpoch
        ),
        _ => false,
    }
}

/// Polls a future to completion on this thread (the admin API is asynchronous; relic runs no async
/// runtime for Kafka). `None` if it is not done within `timeout`.
fn block_on<F: Future>(f: F, timeout: Duration) -> Option<F::Output> {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let deadline = Instant::now() + timeout;
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::park_timeout((deadline - now).min(Duration::from_millis(50)));
    }
}
