//! Kafka, through librdkafka (Debian's, linked dynamically): an idempotent producer with
//! `acks=all`, so each event is written once and in order per partition while the
//! producer retries; one event a message, keyed by its flow's partition key so a flow's
//! events share a partition. librdkafka reconnects with backoff on its own; an event
//! not acknowledged within [`DELIVERY_TIMEOUT`] is counted lost.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
};

use super::{DELIVERY_TIMEOUT, DRAIN_TIMEOUT, OutputCounters, Policy, Queue};

/// Most events librdkafka holds unacknowledged (its own queue, in front of ours).
const IN_FLIGHT_EVENTS: usize = 100_000;

/// Where and how to produce.
pub(super) struct Settings<'a> {
    /// `host:port,host:port`.
    pub brokers: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// librdkafka settings from the URL, applied after netcore's.
    pub extra: &'a [(String, String)],
}

/// Starts the producer; fails at once on a setting librdkafka refuses.
pub(super) fn start(
    name: String,
    settings: Settings<'_>,
    policy: Policy,
    mut queue: Queue,
    counters: Arc<OutputCounters>,
) -> io::Result<JoinHandle<()>> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", settings.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        // One request in flight per broker: with five (librdkafka's default) the
        // idempotent producer spent 7.5× the CPU against a slow broker (docs/outputs.md).
        .set("max.in.flight.requests.per.connection", "1")
        .set("queue.buffering.max.messages", IN_FLIGHT_EVENTS.to_string())
        .set(
            "message.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        );
    for (key, value) in settings.extra {
        config.set(key, value);
    }
    let context = Delivery {
        name: name.clone(),
        topic: settings.topic.to_owned(),
        counters: counters.clone(),
        topic_named: AtomicBool::new(false),
    };
    let producer: ThreadedProducer<Delivery> = config
        .create_with_context(context)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let topic = settings.topic.to_owned();
    std::thread::Builder::new()
        .name("netcore-kafka".into())
        .spawn(move || {
            let reached = producer
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(5));
            match reached {
                Ok(metadata) => {
                    counters.connected.store(true, Relaxed);
                    let missing = match metadata.topics().iter().find(|t| t.name() == topic) {
                        None => Some(RDKafkaErrorCode::UnknownTopicOrPartition),
                        Some(found) => found.error().map(RDKafkaErrorCode::from),
                    };
                    // Not a topic being created (leader not yet available, …).
                    if let Some(code) = missing
                        && refuses_the_topic(code)
                    {
                        producer.context().topic_refused(code);
                    }
                }
                Err(e) => note!(
                    "netcore: output {name}: the brokers do not answer yet ({e}); events are \
                     held (bounded) and sent once they do"
                ),
            }
            let mut key = [0; 16];
            while let Some(batch) = queue.blocking_recv() {
                counters.queued.fetch_sub(1, Relaxed);
                for (line, partition_key) in batch.lines() {
                    let payload = line.strip_suffix(b"\n").unwrap_or(line);
                    hex(partition_key, &mut key);
                    produce(&producer, &topic, payload, &key, policy, &counters);
                }
            }
            // What is not acknowledged by the end of the drain is purged: its delivery
            // reports count it lost.
            if producer.flush(DRAIN_TIMEOUT).is_err() {
                producer.purge(PurgeConfig::default().queue().inflight());
                let _ = producer.flush(Duration::from_secs(1));
            }
        })
}

/// Hands one event to librdkafka; when its queue is full, waits (block, until the run's
/// drain ends) or counts the event dropped.
fn produce(
    producer: &ThreadedProducer<Delivery>,
    topic: &str,
    payload: &[u8],
    key: &[u8],
    policy: Policy,
    counters: &OutputCounters,
) {
    loop {
        let record = BaseRecord::to(topic).payload(payload).key(key);
        match producer.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                if policy == Policy::Block && !counters.drain_expired() =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                return OutputCounters::add(&counters.dropped, 1);
            }
            Err(_) => return OutputCounters::add(&counters.failed, 1),
        }
    }
}

/// `key` as 16 lowercase hex digits.
fn hex(key: u64, out: &mut [u8; 16]) {
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = b"0123456789abcdef"[(key >> (60 - 4 * i)) as usize & 0xf];
    }
}

/// Counts what librdkafka reports delivered or lost, and says when the brokers go away
/// or refuse the topic.
struct Delivery {
    name: String,
    topic: String,
    counters: Arc<OutputCounters>,
    /// Whether a refusal of the topic was named (it is, once).
    topic_named: AtomicBool,
}

impl Delivery {
    /// Names the brokers' refusal of the topic (`code`: it does not exist, or may not be
    /// written), once.
    fn topic_refused(&self, code: RDKafkaErrorCode) {
        if !self.topic_named.swap(true, Relaxed) {
            note!(
                "netcore: output {}: the brokers refuse topic {:?} ({code}); its events are \
                 lost (counted) until it can be written",
                self.name,
                self.topic
            );
        }
    }
}

/// Whether `code` says the topic cannot be written whatever the retries.
fn refuses_the_topic(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::InvalidTopic
    )
}

impl ClientContext for Delivery {
    fn error(&self, error: KafkaError, reason: &str) {
        let all_down = error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown);
        if all_down && self.counters.connected.swap(false, Relaxed) {
            note!(
                "netcore: output {}: every broker is down ({reason}); retrying, events held \
                 (bounded) meanwhile",
                self.name
            );
        }
    }
}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                OutputCounters::add(&self.counters.delivered, 1);
                if !self.counters.connected.swap(true, Relaxed) {
                    note!("netcore: output {}: delivering", self.name);
                }
            }
            Err((error, _)) => {
                if let Some(code) = error.rdkafka_error_code()
                    && refuses_the_topic(code)
                {
                    self.topic_refused(code);
                }
                OutputCounters::add(&self.counters.failed, 1);
            }
        }
    }
}
