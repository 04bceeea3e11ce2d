//! OTLP out (`--output otlp://…`, `otlp+http://…`, `otlp`): each batch of log records
//! (one per event, [`crate::encode::otlp`]) becomes one export request, sent by a thread
//! of its own on a runtime of its own. A request that fails in a way worth retrying
//! (the receiver away or overloaded) is sent again with backoff (100 ms doubling to 5 s,
//! or the receiver's `Retry-After`) until [`DELIVERY_TIMEOUT`], then its events are
//! counted lost; meanwhile the queue behind it fills (bounded) and the policy drops or
//! blocks. Records a receiver rejects (partial success) are counted lost, and its message
//! named once. The run's counters travel too, as OTLP metrics ([`MetricsSlot`]).

mod endpoint;
pub mod metrics;
mod transport;

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Notify;

pub use endpoint::Endpoint;
use transport::{Client, Failure, Signal};

use super::{DELIVERY_TIMEOUT, OutputCounters, Queue};
use crate::encode::otlp::Envelope;

/// Most bytes of records in one export request: the batches waiting in the queue are
/// sent together up to this (receivers take 4 MiB by default).
const REQUEST_BYTES: usize = 1 << 20;

/// The latest metrics request for an OTLP output to send (each replaces the one before
/// it when that was not sent yet: metrics are cumulative, the newest says it all).
#[derive(Default)]
pub struct MetricsSlot {
    latest: Mutex<Option<Bytes>>,
    ready: Notify,
}

impl MetricsSlot {
    /// Hands `request` (an `ExportMetricsServiceRequest`) to the output.
    pub fn publish(&self, request: Vec<u8>) {
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(request.into());
        }
        self.ready.notify_one();
    }

    fn take(&self) -> Option<Bytes> {
        self.latest.lock().ok()?.take()
    }
}

/// Starts the output's thread.
pub(super) fn start(
    name: String,
    endpoint: Endpoint,
    envelope: Envelope,
    metrics: Arc<MetricsSlot>,
    queue: Queue,
    counters: Arc<OutputCounters>,
) -> io::Result<JoinHandle<()>> {
    super::spawn_on_runtime("netcore-otlp", move || {
        let output = Output {
            name,
            counters,
            said: None,
            metrics_refused: false,
            away: false,
        };
        output.run(endpoint, envelope, metrics, queue)
    })
}

/// One OTLP output's state.
struct Output {
    name: String,
    counters: Arc<OutputCounters>,
    /// The last refusal or warning said (each said once in a row).
    said: Option<String>,
    /// Whether the receiver refused the counters (they are not sent again).
    metrics_refused: bool,
    /// Whether the receiver is unreachable now (said once an outage).
    away: bool,
}

impl Output {
    async fn run(
        mut self,
        endpoint: Endpoint,
        envelope: Envelope,
        metrics: Arc<MetricsSlot>,
        mut queue: Queue,
    ) {
        let mut client = match Client::new(&endpoint) {
            Ok(client) => client,
            Err(e) => {
                note!(
                    "netcore: output {}: {e}; its events are lost (counted)",
                    self.name
                );
                while let Some(batch) = queue.recv().await {
                    self.counters.queued.fetch_sub(1, Relaxed);
                    OutputCounters::add(&self.counters.failed, batch.len());
                }
                return;
            }
        };
        self.counters.connected.store(true, Relaxed);
        // The request being built, its memory kept from one request to the next.
        let mut request = Vec::new();
        loop {
            let first = tokio::select! {
                batch = queue.recv() => batch,
                () = metrics.ready.notified() => {
                    if let Some(request) = metrics.take() {
                        self.send_metrics(&mut client, request).await;
                    }
                    continue;
                }
            };
            let Some(first) = first else { break };
            // What else waits, up to REQUEST_BYTES: one request for them all.
            let mut batches = vec![first];
            let mut bytes = batches[0].bytes_len();
            while bytes < REQUEST_BYTES
                && let Ok(batch) = queue.try_recv()
            {
                bytes += batch.bytes_len();
                batches.push(batch);
            }
            self.counters
                .queued
                .fetch_sub(batches.len() as u64, Relaxed);
            let events = batches.iter().map(|b| b.len()).sum();
            if self.counters.drain_expired() {
                OutputCounters::add(&self.counters.failed, events);
                continue;
            }
            let pieces = batches.iter().flat_map(|b| b.pieces());
            envelope.logs_request(pieces, bytes, &mut request);
            drop(batches);
            let sent = Bytes::from(std::mem::take(&mut request));
            let sent = self.send_logs(&mut client, sent, events).await;
            // The memory back, unless the client still holds the request.
            if let Ok(memory) = sent.try_into_mut() {
                request = memory.into();
            }
        }
        // The final counters, when they are there.
        if let Some(request) = metrics.take() {
            self.send_metrics(&mut client, request).await;
        }
    }

    /// Delivers one request of `events` log records, retrying while that is worth it;
    /// hands the request back.
    async fn send_logs(&mut self, client: &mut Client, request: Bytes, events: usize) -> Bytes {
        let counters = self.counters.clone();
        match self.deliver(client, Signal::Logs, request.clone()).await {
            Ok((rejected, message)) => {
                let rejected = (rejected as usize).min(events);
                OutputCounters::add(&counters.delivered, events - rejected);
                OutputCounters::add(&counters.failed, rejected);
                if rejected > 0 {
                    self.say_once(format!(
                        "the receiver rejected {rejected} records: {message}; they are lost \
                         (counted)"
                    ));
                } else if !message.is_empty() {
                    self.say_once(format!("the receiver warns: {message}"));
                }
            }
            Err(why) => {
                OutputCounters::add(&counters.failed, events);
                if let Some(why) = why {
                    self.say_once(format!("{why}; those events are lost (counted)"));
                }
            }
        }
        request
    }

    /// Sends the counters; they are not events, so nothing is counted of them (a request
    /// that fails is replaced by the next one). A receiver that refuses them (one that
    /// takes logs only) is not sent them again.
    async fn send_metrics(&mut self, client: &mut Client, request: Bytes) {
        if self.metrics_refused {
            return;
        }
        if let Err(Some(why)) = self.deliver(client, Signal::Metrics, request).await {
            self.metrics_refused = true;
            self.say_once(format!(
                "metrics: {why}; the counters are not sent there any more"
            ));
        }
    }

    /// Sends `request` until it is answered (the records rejected, and the receiver's
    /// message), refused for good (`Err(Some(why))`), or [`DELIVERY_TIMEOUT`] (or the end
    /// of the drain) passes while the receiver cannot take it (`Err(None)`).
    async fn deliver(
        &mut self,
        client: &mut Client,
        signal: Signal,
        request: Bytes,
    ) -> Result<(u64, String), Option<String>> {
        let deadline = self.counters.deadline(Instant::now() + DELIVERY_TIMEOUT);
        let mut backoff = Duration::from_millis(100);
        loop {
            match client.export(signal, request.clone()).await {
                Ok(answer) => {
                    self.back();
                    return Ok(answer);
                }
                Err(Failure::Refused(why)) => {
                    self.back();
                    return Err(Some(why));
                }
                Err(Failure::Retry { why, after }) => {
                    if !std::mem::replace(&mut self.away, true) {
                        self.counters.connected.store(false, Relaxed);
                        note!(
                            "netcore: output {}: {why}; trying again, events held (bounded) meanwhile",
                            self.name
                        );
                    }
                    let wait = after.unwrap_or(backoff);
                    let deadline = self.counters.deadline(deadline);
                    if Instant::now() + wait >= deadline {
                        return Err(None);
                    }
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// The receiver answered: says so when it was away.
    fn back(&mut self) {
        if std::mem::replace(&mut self.away, false) {
            self.counters.connected.store(true, Relaxed);
            note!("netcore: output {}: the receiver answers again", self.name);
        }
    }

    /// Says `what` of the output, unless it was the last thing said that way.
    fn say_once(&mut self, what: String) {
        if self.said.as_ref() != Some(&what) {
            note!("netcore: output {}: {what}", self.name);
            self.said = Some(what);
        }
    }
}
