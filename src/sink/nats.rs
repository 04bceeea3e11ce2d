//! NATS, through async-nats on a runtime of its own thread. When a JetStream stream binds
//! the subject, each event is published with a `Nats-Msg-Id` (this run's id and the
//! event's number) and its acknowledgement awaited; events not acknowledged are published
//! again (the stream's duplicate window drops copies) until [`DELIVERY_TIMEOUT`], then
//! counted lost. Without a stream, core NATS: at most once, a batch counted delivered
//! when the server answers the flush after it. The client reconnects with backoff; while
//! the server is away the batch in hand waits and the queue behind it fills (bounded).

use std::future::IntoFuture;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{GetStreamByNameErrorKind, Publish, PublishErrorKind};
use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;
use tokio::time::timeout_at;

use super::{DELIVERY_TIMEOUT, OutputCounters, Queue};
use crate::encode::Lines;

/// Starts the client's thread; connecting happens there, and is retried until it works.
pub(super) fn start(
    name: String,
    server: String,
    subject: String,
    queue: Queue,
    counters: Arc<OutputCounters>,
) -> io::Result<JoinHandle<()>> {
    super::spawn_on_runtime("netcore-nats", move || {
        run(name, server, subject, queue, counters)
    })
}

async fn run(
    name: String,
    server: String,
    subject: String,
    mut queue: Queue,
    counters: Arc<OutputCounters>,
) {
    let events = (name.clone(), counters.clone());
    let connecting = ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(100 << attempts.min(5)).min(Duration::from_secs(2))
        })
        .event_callback(move |event| {
            let (name, counters) = events.clone();
            async move { connection_event(&name, &counters, event) }
        })
        .connect(server.as_str())
        .await;
    let client = match connecting {
        Ok(client) => client,
        Err(e) => {
            note!("netcore: output {name}: {e}; its events are lost (counted)");
            while let Some(batch) = queue.recv().await {
                counters.queued.fetch_sub(1, Relaxed);
                OutputCounters::add(&counters.failed, batch.len());
            }
            return;
        }
    };
    let jetstream = async_nats::jetstream::new(client.clone());
    let stream = bound_stream(&name, &client, &jetstream, &subject, &counters).await;
    let connected = client.connection_state() == async_nats::connection::State::Connected;
    match &stream {
        // Never reached: nothing to say of the subject.
        _ if !connected => {}
        Some(stream) => note!(
            "netcore: output {name}: JetStream stream {stream} binds {subject}: events are \
             acknowledged"
        ),
        None => note!(
            "netcore: output {name}: no JetStream stream binds {subject}: core NATS, at most once"
        ),
    }
    let run_id = format!("{}-{}", std::process::id(), nanos_now());
    let mut sequence = 0u64;
    // Whether the stream was found gone (no responders) and said so.
    let mut stream_gone = false;
    while let Some(batch) = queue.recv().await {
        counters.queued.fetch_sub(1, Relaxed);
        if counters.drain_expired() {
            OutputCounters::add(&counters.failed, batch.len());
            continue;
        }
        match stream {
            Some(_) => {
                let first = sequence;
                sequence += batch.len() as u64;
                let target = JetStreamTarget {
                    jetstream: &jetstream,
                    name: &name,
                    subject: &subject,
                };
                let events = (&*batch, run_id.as_str(), first);
                publish_acknowledged(&target, events, &counters, &mut stream_gone).await
            }
            None => publish_core(&client, &subject, &batch, &counters).await,
        }
    }
}

/// Says when the connection is lost and when it is back.
fn connection_event(name: &str, counters: &OutputCounters, event: Event) {
    match event {
        Event::Connected => {
            counters.connected.store(true, Relaxed);
            note!("netcore: output {name}: connected");
        }
        Event::Disconnected => {
            counters.connected.store(false, Relaxed);
            note!(
                "netcore: output {name}: connection lost; reconnecting, events held (bounded) meanwhile"
            );
        }
        _ => {}
    }
}

/// The JetStream stream that binds `subject`, asked once the server answers; None when
/// none does or the server has no JetStream.
async fn bound_stream(
    name: &str,
    client: &Client,
    jetstream: &async_nats::jetstream::Context,
    subject: &str,
    counters: &OutputCounters,
) -> Option<String> {
    let mut said = false;
    loop {
        match jetstream.stream_by_subject(subject).await {
            Ok(stream) => return Some(stream),
            Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound => return None,
            // Connected, and still no answer: no JetStream there.
            Err(_) if client.connection_state() == async_nats::connection::State::Connected => {
                return None;
            }
            Err(_) if counters.drain_expired() => return None,
            Err(e) => {
                if !std::mem::replace(&mut said, true) {
                    note!(
                        "netcore: output {name}: the server does not answer yet ({e}); events \
                         are held (bounded) and sent once it does"
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await
            }
        }
    }
}

/// Where acknowledged events go: the output `name`'s subject, on JetStream.
struct JetStreamTarget<'a> {
    jetstream: &'a async_nats::jetstream::Context,
    name: &'a str,
    subject: &'a str,
}

/// Publishes every event of `batch` to JetStream (`events`: the batch, the run's id and
/// the number of its first event) and awaits the acknowledgements; publishes again what
/// was not acknowledged, until [`DELIVERY_TIMEOUT`] (or the end of the run's drain)
/// passes. A stream gone (no responders) is named once, and its return (`stream_gone`).
async fn publish_acknowledged(
    target: &JetStreamTarget<'_>,
    (batch, run_id, first): (&Lines, &str, u64),
    counters: &OutputCounters,
    stream_gone: &mut bool,
) {
    let JetStreamTarget {
        jetstream,
        name,
        subject,
    } = *target;
    let mut pending: Vec<(String, Bytes)> = batch
        .lines()
        .zip(first..)
        .map(|((line, _), n)| {
            let payload = line.strip_suffix(b"\n").unwrap_or(line);
            (format!("{run_id}-{n}"), Bytes::copy_from_slice(payload))
        })
        .collect();
    let deadline = counters.deadline(Instant::now() + DELIVERY_TIMEOUT);
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut acks = Vec::with_capacity(pending.len());
        for (id, payload) in &pending {
            let publish = Publish::build().payload(payload.clone()).message_id(id);
            let sent = timeout_at(
                deadline.into(),
                jetstream.send_publish(subject.to_owned(), publish),
            );
            acks.push(sent.await.ok().and_then(Result::ok));
        }
        let mut unacknowledged = Vec::new();
        for (ack, event) in acks.into_iter().zip(pending) {
            let answer = match ack {
                Some(ack) => timeout_at(deadline.into(), ack.into_future()).await.ok(),
                None => None,
            };
            let acknowledged = matches!(answer, Some(Ok(_)));
            let no_stream =
                matches!(&answer, Some(Err(e)) if e.kind() == PublishErrorKind::StreamNotFound);
            if no_stream && !std::mem::replace(stream_gone, true) {
                note!(
                    "netcore: output {name}: no JetStream stream binds {subject} any more (no \
                     responders); publishing again for {} s, then its events are counted lost",
                    DELIVERY_TIMEOUT.as_secs()
                );
            } else if acknowledged && std::mem::replace(stream_gone, false) {
                note!("netcore: output {name}: a JetStream stream binds {subject} again");
            }
            if acknowledged {
                OutputCounters::add(&counters.delivered, 1);
            } else {
                unacknowledged.push(event);
            }
        }
        if unacknowledged.is_empty() {
            return;
        }
        if Instant::now() + backoff >= counters.deadline(deadline) {
            return OutputCounters::add(&counters.failed, unacknowledged.len());
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
        pending = unacknowledged;
    }
}

/// Publishes every event of `batch` with core NATS, then flushes: delivered when the
/// server answers the flush, lost (counted) when it does not in time.
async fn publish_core(client: &Client, subject: &str, batch: &Lines, counters: &OutputCounters) {
    let deadline = counters.deadline(Instant::now() + DELIVERY_TIMEOUT);
    let publish_all = async {
        for (line, _) in batch.lines() {
            let payload = line.strip_suffix(b"\n").unwrap_or(line);
            client
                .publish(subject.to_owned(), Bytes::copy_from_slice(payload))
                .await?;
        }
        client.flush().await?;
        Ok::<_, async_nats::Error>(())
    };
    let counter = match timeout_at(deadline.into(), publish_all).await {
        Ok(Ok(())) => &counters.delivered,
        _ => &counters.failed,
    };
    OutputCounters::add(counter, batch.len());
}

fn nanos_now() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
