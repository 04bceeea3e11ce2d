//! The sinks: the event outputs (`--output`: standard output, files, Kafka, NATS), each
//! fed batches of encoded lines through a bounded queue and written by a thread of its
//! own ([`Outputs`]); the packets themselves into pcapng or pcap files ([`capture`]),
//! and a flow's packets when a signature fires ([`evidence`]); the counters served to
//! Prometheus ([`metrics`]).

pub mod capture;
pub mod evidence;
mod file;
mod kafka;
pub mod metrics;
mod nats;
pub mod otlp;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::encode::otlp::Envelope;
use crate::encode::{Format, Lines};
use crate::pipeline::EventOutput;

/// Where an output delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file, rotated by size: `PATH`, `PATH.1`, … `PATH.<keep>`.
    File {
        /// The file written.
        path: PathBuf,
        /// Rotate when the file reaches this many bytes (0: never).
        max_bytes: u64,
        /// Rotated files kept.
        keep: u32,
    },
    /// A Kafka topic (any Kafka-protocol broker).
    Kafka {
        /// `host:port,host:port`.
        brokers: String,
        /// The topic.
        topic: String,
        /// librdkafka settings from the URL's query, applied after netcore's.
        settings: Vec<(String, String)>,
    },
    /// A NATS subject; JetStream publishing with acknowledgements when a stream binds it.
    Nats {
        /// `host:port`.
        server: String,
        /// The subject.
        subject: String,
    },
    /// An OTLP receiver: one log record per event, and the counters as metrics.
    Otlp(otlp::Endpoint),
}

/// What `--output` names: a target, and the format written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The URL as given (it names the output in messages and metrics).
    pub name: String,
    /// Where.
    pub target: Target,
    /// `format=`: `json`, `text` or `text-events`; none: JSON, except on standard output,
    /// which follows `--json`/`--text-events`.
    pub format: Option<FormatName>,
}

/// A format an output can ask for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatName {
    /// Tracee JSON (`--schema`, `--community-id` apply).
    Json,
    /// One line per packet.
    Text,
    /// One line per event.
    TextEvents,
}

/// The output URL forms, for messages.
const OUTPUT_FORMS: &str = "stdout, file:PATH, kafka://HOST:PORT[,HOST:PORT…]/TOPIC, \
                            nats://HOST:PORT/SUBJECT, each optionally ?format=json|text|text-events, \
                            or otlp://HOST:PORT, otlp+http(s)://HOST:PORT[/PREFIX], otlp";

impl std::str::FromStr for OutputSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (base, query) = text.split_once('?').unwrap_or((text, ""));
        let mut format = None;
        let mut options = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("option `{pair}`: expected NAME=VALUE"))?;
            match key {
                "format" => {
                    format = Some(match value {
                        "json" => FormatName::Json,
                        "text" => FormatName::Text,
                        "text-events" => FormatName::TextEvents,
                        _ => {
                            return Err(format!(
                                "format={value}: expected json, text or text-events"
                            ));
                        }
                    })
                }
                _ => options.push((key.to_owned(), value.to_owned())),
            }
        }
        let number = |key: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{key}={value}: expected a whole number"))
        };
        let target = if base == "stdout" || base == "-" {
            Target::Stdout
        } else if let Some(path) = base.strip_prefix("file:") {
            if path.is_empty() {
                return Err("file: needs a path (file:/var/log/netcore.json)".into());
            }
            let (mut max_bytes, mut keep) = (0, 5);
            for (key, value) in options.drain(..) {
                match key.as_str() {
                    "max-size" => max_bytes = number(&key, &value)? << 20,
                    "max-files" => keep = number(&key, &value)?.min(u32::MAX.into()) as u32,
                    _ => {
                        return Err(format!(
                            "file: unknown option `{key}` (max-size=MB, max-files=N)"
                        ));
                    }
                }
            }
            Target::File {
                path: PathBuf::from(path),
                max_bytes,
                keep,
            }
        } else if let Some(rest) = base.strip_prefix("kafka://") {
            let (brokers, topic) = split_url(rest, "kafka://HOST:PORT/TOPIC")?;
            let settings = std::mem::take(&mut options);
            Target::Kafka {
                brokers,
                topic,
                settings,
            }
        } else if let Some(rest) = base.strip_prefix("nats://") {
            let (server, subject) = split_url(rest, "nats://HOST:PORT/SUBJECT")?;
            if server.contains(',') {
                return Err("nats://: one server (HOST:PORT)".into());
            }
            Target::Nats { server, subject }
        } else if base == "otlp" || base.starts_with("otlp://") || base.starts_with("otlp+") {
            if format.is_some_and(|f| f != FormatName::Json) {
                return Err("otlp: the records' bodies are JSON (format=json only)".into());
            }
            let options = std::mem::take(&mut options);
            Target::Otlp(otlp::Endpoint::parse(base, &options, |name| {
                std::env::var(name).ok()
            })?)
        } else {
            return Err(format!("unknown output; expected {OUTPUT_FORMS}"));
        };
        if let Some((key, _)) = options.first() {
            return Err(format!("unknown option `{key}`"));
        }
        Ok(OutputSpec {
            name: redacted(text),
            target,
            format,
        })
    }
}

/// `text` with the values of its `headers=` option (credentials, often) replaced by
/// `***`: what names the output in messages and metrics.
fn redacted(text: &str) -> String {
    let Some((base, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let options: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("headers", list)) => {
                let names: Vec<String> = list
                    .split(',')
                    .map(|h| format!("{}=***", h.split('=').next().unwrap_or("")))
                    .collect();
                format!("headers={}", names.join(","))
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", options.join("&"))
}

/// `HOST:PORT[,HOST:PORT]/NAME` → (the servers, the name); every server needs a port.
fn split_url(rest: &str, form: &str) -> Result<(String, String), String> {
    let (servers, name) = rest
        .split_once('/')
        .ok_or_else(|| format!("no topic or subject: expected {form}"))?;
    if name.is_empty() || name.contains('/') {
        return Err(format!("`{name}` is no topic or subject: expected {form}"));
    }
    for server in servers.split(',') {
        let port = server
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(format!("`{server}`: expected HOST:PORT in {form}"));
        }
    }
    Ok((servers.to_owned(), name.to_owned()))
}

/// What an output does when its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// Wait for room: capture slows down to the output's pace (file mode's default).
    Block,
    /// Drop the batch and count its events: capture never stalls (live modes' default).
    Drop,
}

/// What happened to one output's events; shared by its thread, the pipeline and the
/// metrics server.
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// Events written (files) or acknowledged (brokers; core NATS: handed to the server).
    pub delivered: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events lost after they left the queue: a failed write, no acknowledgement in time,
    /// refused by the broker.
    pub failed: AtomicU64,
    /// Batches waiting in the queue.
    pub queued: AtomicU64,
    /// Whether the destination is reachable now.
    pub connected: AtomicBool,
    /// Set by SIGHUP: files are reopened before the next batch.
    reopen: AtomicBool,
    /// Set when standard output's reader left or it cannot be written: the run ends.
    closed: Mutex<Option<io::Error>>,
    /// Set when the run ends: what is not delivered by then is counted lost.
    drain_by: OnceLock<Instant>,
}

impl OutputCounters {
    fn add(counter: &AtomicU64, events: usize) {
        counter.fetch_add(events as u64, Relaxed);
    }

    /// Whether the run has ended and the time to deliver what was left has run out.
    fn drain_expired(&self) -> bool {
        self.drain_by.get().is_some_and(|by| Instant::now() >= *by)
    }

    /// The earlier of `deadline` and the end of the drain.
    fn deadline(&self, deadline: Instant) -> Instant {
        self.drain_by.get().map_or(deadline, |by| deadline.min(*by))
    }
}

/// How long an output may take to deliver what it holds when the run ends.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a broker may take to acknowledge an event before it is counted lost.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The end of an output's queue its thread reads.
type Queue = mpsc::Receiver<Arc<Lines>>;

/// One running output.
struct Running {
    spec: OutputSpec,
    counters: Arc<OutputCounters>,
    thread: JoinHandle<()>,
}

/// The event outputs of a run.
pub struct Outputs {
    queues: OutputQueues,
    running: Vec<Running>,
    /// Where each OTLP output takes the counters.
    metrics_slots: Vec<Arc<otlp::MetricsSlot>>,
    /// The OTLP resource and scope.
    envelope: Envelope,
    /// When the outputs started (the counters' start), ns since the Unix epoch.
    started_ns: u64,
}

/// The outputs' queues without their threads: what each decoding thread hands its batches
/// to ([`EventOutput`]), one clone each. The outputs' threads take batches from every clone
/// in the order they arrive.
#[derive(Clone)]
pub struct OutputQueues {
    queues: Vec<OutputQueue>,
    policy: Policy,
}

/// One output's queue.
#[derive(Clone)]
struct OutputQueue {
    /// Which of the encoders' batches it takes.
    format: usize,
    sender: mpsc::Sender<Arc<Lines>>,
    counters: Arc<OutputCounters>,
}

impl Outputs {
    /// Starts each output of `specs`, reading the batches of format `formats[i]` (an index
    /// into the encoders' formats), with queues of `queue_batches` batches. A broker that
    /// cannot be reached yet is not an error: its output connects when it can.
    pub fn start(
        specs: &[(OutputSpec, usize)],
        policy: Policy,
        queue_batches: usize,
    ) -> io::Result<Self> {
        let mut running = Vec::new();
        let mut queues = Vec::new();
        let mut metrics_slots = Vec::new();
        let envelope = Envelope::new(&host_name());
        for (spec, format) in specs {
            let (sender, queue) = mpsc::channel(queue_batches.max(1));
            let counters = Arc::new(OutputCounters::default());
            let thread = match &spec.target {
                Target::Stdout => file::start_stdout(queue, counters.clone()),
                Target::File {
                    path,
                    max_bytes,
                    keep,
                } => file::start_file(path.clone(), *max_bytes, *keep, queue, counters.clone()),
                Target::Kafka {
                    brokers,
                    topic,
                    settings,
                } => kafka::start(
                    spec.name.clone(),
                    kafka::Settings {
                        brokers,
                        topic,
                        extra: settings,
                    },
                    policy,
                    queue,
                    counters.clone(),
                ),
                Target::Nats { server, subject } => nats::start(
                    spec.name.clone(),
                    server.clone(),
                    subject.clone(),
                    queue,
                    counters.clone(),
                ),
                Target::Otlp(endpoint) => {
                    let slot = Arc::new(otlp::MetricsSlot::default());
                    metrics_slots.push(slot.clone());
                    otlp::start(
                        spec.name.clone(),
                        endpoint.clone(),
                        envelope.clone(),
                        slot,
                        queue,
                        counters.clone(),
                    )
                }
            }
            .map_err(|e| io::Error::new(e.kind(), format!("--output {}: {e}", spec.name)))?;
            queues.push(OutputQueue {
                format: *format,
                sender,
                counters: counters.clone(),
            });
            running.push(Running {
                spec: spec.clone(),
                counters,
                thread,
            });
        }
        Ok(Outputs {
            queues: OutputQueues { queues, policy },
            running,
            metrics_slots,
            envelope,
            started_ns: wall_clock_ns(),
        })
    }

    /// Whether an output takes the run's counters (OTLP).
    pub fn want_metrics(&self) -> bool {
        !self.metrics_slots.is_empty()
    }

    /// Hands the counters of `sources` to the outputs that take them, as of now.
    pub fn publish_metrics(&self, sources: &metrics::Sources<'_>) {
        if self.metrics_slots.is_empty() {
            return;
        }
        let request =
            otlp::metrics::request(sources, &self.envelope, self.started_ns, wall_clock_ns());
        for slot in &self.metrics_slots {
            slot.publish(request.clone());
        }
    }

    /// The queues, for each decoding thread to hand its batches to.
    pub fn queues(&self) -> OutputQueues {
        self.queues.clone()
    }

    /// SIGHUP: file outputs reopen their files before their next batch.
    pub fn reopen(&self) {
        for output in &self.running {
            output.counters.reopen.store(true, Relaxed);
        }
    }

    /// The outputs' counters as they are now, for `--stats` and the metrics.
    pub fn report(&self) -> OutputReport {
        OutputReport(
            self.running
                .iter()
                .map(|o| (o.spec.clone(), o.counters.clone()))
                .collect(),
        )
    }

    /// Closes the queues and waits for every output to deliver what it holds (brokers: at
    /// most [`DRAIN_TIMEOUT`]). Every clone of [`Outputs::queues`] must be gone by then:
    /// an output ends when all of its queue's senders have. Returns what became of each
    /// output's events, and standard output's error if it failed (`BrokenPipe`: its
    /// reader left).
    pub fn close(self) -> (OutputReport, io::Result<()>) {
        let mut report = OutputReport(Vec::new());
        let mut result = Ok(());
        let drain_by = Instant::now() + DRAIN_TIMEOUT;
        for output in &self.running {
            let _ = output.counters.drain_by.set(drain_by);
        }
        drop(self.queues);
        for output in self.running {
            let _ = output.thread.join();
            if let Some(e) = output.counters.closed.lock().map_or(None, |mut c| c.take()) {
                result = Err(e);
            }
            report.0.push((output.spec, output.counters));
        }
        (report, result)
    }
}

/// Hands `lines` to the outputs that use their format; a full queue blocks or drops (and
/// counts) as the policy says.
impl EventOutput for OutputQueues {
    fn hand(&mut self, format: usize, lines: Lines) -> io::Result<()> {
        let batch = Arc::new(lines);
        for output in self.queues.iter().filter(|o| o.format == format) {
            if let Some(e) = output.counters.closed.lock().map_or(None, |mut c| c.take()) {
                return Err(e);
            }
            if batch.is_empty() {
                continue;
            }
            let counters = &output.counters;
            counters.queued.fetch_add(1, Relaxed);
            let sent = match self.policy {
                Policy::Block => output.sender.blocking_send(batch.clone()).is_ok(),
                Policy::Drop => output.sender.try_send(batch.clone()).is_ok(),
            };
            if !sent {
                counters.queued.fetch_sub(1, Relaxed);
                OutputCounters::add(&counters.dropped, batch.len());
            }
        }
        Ok(())
    }
}

/// Runs the future `task` makes on a Tokio runtime of its own (current-thread: one output
/// is one thread), on a thread called `name`; the runtime is built here, so that a failure
/// to build it is the caller's error.
fn spawn_on_runtime<F>(
    name: &str,
    task: impl FnOnce() -> F + Send + 'static,
) -> io::Result<JoinHandle<()>>
where
    F: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || runtime.block_on(task()))
}

/// Now, ns since the Unix epoch.
fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// This host's name (the OTLP resource's `host.name`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

/// What became of each output's events, for the summary, `--stats` and the metrics.
#[derive(Default)]
pub struct OutputReport(Vec<(OutputSpec, Arc<OutputCounters>)>);

impl fmt::Display for OutputReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (spec, counters)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(
                f,
                "{sep}{}: {} events delivered, {} dropped (queue full), {} lost after leaving the queue",
                spec.name,
                counters.delivered.load(Relaxed),
                counters.dropped.load(Relaxed),
                counters.failed.load(Relaxed),
            )?;
        }
        Ok(())
    }
}

impl OutputReport {
    /// Each output's name and counters.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OutputCounters)> {
        self.0.iter().map(|(spec, c)| (spec.name.as_str(), &**c))
    }

    /// Whether any output lost an event or is not standard output (then the report is
    /// worth a line).
    pub fn worth_reporting(&self) -> bool {
        self.0.iter().any(|(spec, c)| {
            spec.target != Target::Stdout
                || c.dropped.load(Relaxed) > 0
                || c.failed.load(Relaxed) > 0
        })
    }
}

/// Resolves each output's format: the one it names, else `cli_format` on standard output
/// and JSON elsewhere. Returns the distinct formats (the encoders to run) and, for each
/// output, the index of its format among them.
pub fn formats(
    specs: &[OutputSpec],
    cli_format: Format,
    json: Format,
) -> (Vec<Format>, Vec<(OutputSpec, usize)>) {
    let mut formats = vec![];
    let mut outputs = vec![];
    for spec in specs {
        let format = match (spec.format, &spec.target) {
            // JSON bodies in OTLP records (the only format parsing lets through).
            (_, Target::Otlp(_)) => match json {
                Format::Json(schema, community_id) => Format::Otlp(schema, community_id),
                other => other,
            },
            (Some(FormatName::Json), _) => json,
            (Some(FormatName::Text), _) => Format::PacketLines,
            (Some(FormatName::TextEvents), _) => Format::EventLines,
            (None, Target::Stdout) => cli_format,
            (None, _) => json,
        };
        let index = formats
            .iter()
            .position(|&f| f == format)
            .unwrap_or_else(|| {
                formats.push(format);
                formats.len() - 1
            });
        outputs.push((spec.clone(), index));
    }
    if formats.is_empty() {
        // No output (`-w -`): the events are still encoded, to be counted.
        formats.push(cli_format);
    }
    (formats, outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_urls_parse_or_name_their_problem() {
        let kafka: OutputSpec = "kafka://b1:9092,b2:9093/events?compression.type=zstd&format=json"
            .parse()
            .unwrap();
        assert_eq!(
            kafka.target,
            Target::Kafka {
                brokers: "b1:9092,b2:9093".into(),
                topic: "events".into(),
                settings: vec![("compression.type".into(), "zstd".into())],
            }
        );
        assert_eq!(kafka.format, Some(FormatName::Json));
        let file: OutputSpec = "file:/var/log/n.log?max-size=10&max-files=3&format=text"
            .parse()
            .unwrap();
        assert_eq!(
            file.target,
            Target::File {
                path: "/var/log/n.log".into(),
                max_bytes: 10 << 20,
                keep: 3
            }
        );
        assert_eq!(
            "nats://127.0.0.1:4222/netcore.events"
                .parse::<OutputSpec>()
                .unwrap()
                .target,
            Target::Nats {
                server: "127.0.0.1:4222".into(),
                subject: "netcore.events".into()
            }
        );
        for (bad, says) in [
            ("kafka://broker:9092", "no topic"),
            ("kafka://broker/events", "expected HOST:PORT"),
            ("nats://a:1,b:2/s", "one server"),
            ("nats://h:4222/", "no topic or subject"),
            ("file:", "needs a path"),
            ("file:/x?rotate=1", "unknown option `rotate`"),
            (
                "file:/x?max-size=big",
                "max-size=big: expected a whole number",
            ),
            ("stdout?format=xml", "format=xml"),
            ("stdout?color=1", "unknown option `color`"),
            ("http://x/y", "unknown output"),
        ] {
            let error = bad.parse::<OutputSpec>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn outputs_of_one_format_share_its_encoder() {
        let json = Format::Json(netcore_core::json::SCHEMAS[0], None);
        let specs: Vec<OutputSpec> = [
            "stdout",
            "file:/a",
            "nats://h:1/s?format=text",
            "kafka://h:1/t",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let (formats, outputs) = formats(&specs, Format::PacketLines, json);
        assert_eq!(formats, [Format::PacketLines, json]);
        let indexes: Vec<usize> = outputs.iter().map(|(_, i)| *i).collect();
        assert_eq!(indexes, [0, 1, 0, 1]);
    }
}
