//! `--metrics ADDR`: the run's counters in Prometheus' text format at
//! `http://ADDR/metrics`, rendered once a second by the capture loop ([`render`]) and
//! served by a thread of their own, one connection at a time (a scraper that stalls is
//! cut off after [`CLIENT_TIMEOUT`]).

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netcore_core::EventKind;
use netcore_core::flow::FlowKind;

use super::OutputReport;
use crate::kernel::loader::{KernelCounters, ProgramCost};
use crate::pipeline::Summary;

/// How long a scraper may take to send its request or read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The served page, replaced at each [`Metrics::publish`].
pub struct Metrics {
    page: Arc<Mutex<String>>,
}

/// `--metrics`' socket, bound while the run may still bind any port (before it gives up
/// its privileges), not yet served.
pub struct MetricsListener(TcpListener);

impl MetricsListener {
    /// Listens on `addr`; fails at once when it cannot.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        TcpListener::bind(addr).map(MetricsListener)
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// Serves the latest page on a thread of its own.
    pub fn serve(self) -> io::Result<Metrics> {
        let page = Arc::new(Mutex::new(String::new()));
        let served = page.clone();
        let listener = self.0;
        std::thread::Builder::new()
            .name("netcore-metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let _ = answer(stream, &served);
                }
            })?;
        Ok(Metrics { page })
    }
}

impl Metrics {
    /// Replaces the page served.
    pub fn publish(&self, page: String) {
        if let Ok(mut served) = self.page.lock() {
            *served = page;
        }
    }
}

/// Reads one request; answers `GET /metrics` with the page, anything else with 404.
fn answer(mut stream: TcpStream, page: &Mutex<String>) -> io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut request = [0; 4096];
    let mut read = 0;
    while read < request.len() && !request[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut request[read..])? {
            0 => break,
            n => read += n,
        }
    }
    let head = String::from_utf8_lossy(&request[..read]);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match (head.starts_with("GET "), path) {
        (true, "/metrics" | "/") => ("200 OK", page.lock().map(|p| p.clone()).unwrap_or_default()),
        _ => ("404 Not Found", "netcore serves /metrics\n".to_owned()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// What the page is made of.
pub struct Sources<'a> {
    /// The pipeline's counts.
    pub summary: &'a Summary,
    /// The kernel programs' counters; None when there are none to report (file mode, or
    /// the final export of a run, whose kernel counters were read before its end).
    pub kernel: Option<&'a KernelCounters>,
    /// Their kernel time by role, when timed (`--stats`).
    pub kernel_costs: &'a [ProgramCost],
    /// Frames without a known owning task.
    pub unowned: u64,
    /// The outputs.
    pub outputs: &'a OutputReport,
    /// The source's own drop counters (AF_XDP's), by name.
    pub source_drops: &'a [(&'static str, u64)],
}

/// What a metric family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (from the start of the run).
    Counter,
    /// A value now.
    Gauge,
}

/// Where the counters are written: Prometheus' text page, or an OTLP metrics request.
pub trait Exposition {
    /// Starts family `name`.
    fn family(&mut self, name: &str, kind: Kind, help: &str);
    /// One sample of the family just started.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64);
}

/// The page: every counter of `sources` in Prometheus' text format.
pub fn render(sources: &Sources<'_>) -> String {
    let mut page = Page(String::with_capacity(4096));
    expose(sources, &mut page);
    page.0
}

/// Writes every counter of `sources` to `page`: the one list of the run's metrics.
pub fn expose(sources: &Sources<'_>, page: &mut impl Exposition) {
    let s = sources.summary;
    page.family(
        "netcore_packets_total",
        Kind::Counter,
        "Frames read from the source.",
    );
    page.sample("netcore_packets_total", &[], s.packets);
    page.family(
        "netcore_bytes_total",
        Kind::Counter,
        "Bytes of the frames read, as on the wire.",
    );
    page.sample("netcore_bytes_total", &[], s.bytes);
    page.family(
        "netcore_events_total",
        Kind::Counter,
        "Events written, by event.",
    );
    for (kind, n) in EventKind::ALL.iter().zip(s.packet_events) {
        page.sample("netcore_events_total", &[("event", kind.name())], n);
    }
    for (kind, n) in FlowKind::ALL.iter().zip(s.flow_events) {
        page.sample("netcore_events_total", &[("event", kind.name())], n);
    }
    page.family(
        "netcore_findings_total",
        Kind::Counter,
        "Signature findings, by signature.",
    );
    for (signature, n) in &s.findings {
        page.sample("netcore_findings_total", &[("signature", signature)], *n);
    }
    page.family(
        "netcore_decode_errors_total",
        Kind::Counter,
        "Decode errors, by kind.",
    );
    for (kind, n) in &s.errors {
        page.sample("netcore_decode_errors_total", &[("kind", kind)], *n);
    }
    page.family(
        "netcore_packets_skipped_total",
        Kind::Counter,
        "Frames that gave no event before decoding or as not IP, by reason.",
    );
    for (reason, n) in [
        ("not_ip", s.not_ip),
        ("direction", s.other_direction),
        ("interface", s.other_interface),
        ("pcap_filter", s.expression_rejected),
    ] {
        page.sample("netcore_packets_skipped_total", &[("reason", reason)], n);
    }
    page.family(
        "netcore_unowned_packets_total",
        Kind::Counter,
        "Frames without a known owning task.",
    );
    page.sample("netcore_unowned_packets_total", &[], sources.unowned);
    page.family(
        "netcore_dropped_total",
        Kind::Counter,
        "What was lost, by stage.",
    );
    let t = &s.dns_tcp;
    if let Some(k) = sources.kernel {
        for (stage, n) in [
            ("ring_buffer", k.ring_full),
            ("ring_buffer_dns_copies", k.copies_lost),
            ("xdp_no_metadata", k.xdp_no_metadata),
            ("kernel_flows_stale", k.flows_stale),
        ] {
            page.sample("netcore_dropped_total", &[("stage", stage)], n);
        }
    }
    for (stage, n) in [
        ("flow_table", s.flows.untracked),
        ("dns_names", s.flows.names_evicted),
        ("dns_transactions", s.flows.transactions.untracked),
        (
            "dns_tcp_reassembly",
            t.dropped_gap
                + t.dropped_memory
                + t.dropped_evicted
                + t.dropped_idle
                + t.dropped_closed,
        ),
    ] {
        page.sample("netcore_dropped_total", &[("stage", stage)], n);
    }
    for (stage, n) in sources.source_drops {
        page.sample("netcore_dropped_total", &[("stage", stage)], *n);
    }
    let evidence = s.evidence.unwrap_or_default();
    page.sample(
        "netcore_dropped_total",
        &[("stage", "evidence")],
        evidence.evicted,
    );
    page.family(
        "netcore_evidence_files_total",
        Kind::Counter,
        "Evidence files written.",
    );
    page.sample("netcore_evidence_files_total", &[], evidence.files);
    if let Some(k) = sources.kernel {
        kernel_counters(k, page);
    }
    page.family(
        "netcore_kernel_program_runs_total",
        Kind::Counter,
        "Runs of netcore's eBPF programs, by role (with --stats).",
    );
    for cost in sources.kernel_costs {
        let labels = [("role", cost.role)];
        page.sample("netcore_kernel_program_runs_total", &labels, cost.runs);
    }
    page.family(
        "netcore_kernel_program_nanoseconds_total",
        Kind::Counter,
        "Kernel time in netcore's eBPF programs, by role (with --stats).",
    );
    for cost in sources.kernel_costs {
        let labels = [("role", cost.role)];
        page.sample(
            "netcore_kernel_program_nanoseconds_total",
            &labels,
            cost.run_time_ns,
        );
    }
    page.family("netcore_flows_total", Kind::Counter, "Flows tracked.");
    page.sample("netcore_flows_total", &[], s.flows.created);
    page.family(
        "netcore_output_events_total",
        Kind::Counter,
        "Events per output, by outcome.",
    );
    for (name, c) in sources.outputs.iter() {
        for (outcome, n) in [
            ("delivered", &c.delivered),
            ("dropped", &c.dropped),
            ("failed", &c.failed),
        ] {
            let labels = [("output", name), ("outcome", outcome)];
            page.sample("netcore_output_events_total", &labels, n.load(Relaxed));
        }
    }
    page.family(
        "netcore_output_queue_batches",
        Kind::Gauge,
        "Batches waiting in each output's queue.",
    );
    for (name, c) in sources.outputs.iter() {
        let labels = [("output", name)];
        page.sample(
            "netcore_output_queue_batches",
            &labels,
            c.queued.load(Relaxed),
        );
    }
    page.family(
        "netcore_output_up",
        Kind::Gauge,
        "Whether each output's destination is reachable.",
    );
    for (name, c) in sources.outputs.iter() {
        let up = u64::from(c.connected.load(Relaxed));
        page.sample("netcore_output_up", &[("output", name)], up);
    }
}

/// The kernel programs' counters.
fn kernel_counters(k: &KernelCounters, page: &mut impl Exposition) {
    page.family(
        "netcore_kernel_packets_total",
        Kind::Counter,
        "Packets the kernel programs saw, by outcome.",
    );
    for (outcome, n) in [
        ("captured", k.captured),
        ("filtered", k.filtered),
        ("counted_in_kernel_flows", k.flow_counted),
        ("flow_table_full", k.flow_table_full),
        ("shed", k.shed),
    ] {
        page.sample("netcore_kernel_packets_total", &[("outcome", outcome)], n);
    }
    page.family(
        "netcore_sample_every",
        Kind::Gauge,
        "--cpu-budget: packet events are written for one packet in this many (1: all).",
    );
    page.sample(
        "netcore_sample_every",
        &[],
        u64::from(k.shedding.sample_every.max(1)),
    );
    page.family(
        "netcore_shedding_changes_total",
        Kind::Counter,
        "--cpu-budget: times shedding started and ended.",
    );
    for (change, n) in [
        ("shed", k.shedding.sheds),
        ("recovered", k.shedding.recoveries),
    ] {
        page.sample("netcore_shedding_changes_total", &[("change", change)], n);
    }
}

/// A page being written.
struct Page(String);

impl Exposition for Page {
    fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        for (i, (label, text)) in labels.iter().enumerate() {
            self.0.push(if i == 0 { '{' } else { ',' });
            let _ = write!(self.0, "{label}=\"");
            for c in text.chars() {
                match c {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        if !labels.is_empty() {
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_every_family_has_its_type() {
        let mut summary = Summary {
            packets: 7,
            ..Default::default()
        };
        summary.packet_events[EventKind::Tcp as usize] = 3;
        let spec: crate::sink::OutputSpec = "file:/tmp/a\"b".parse().unwrap();
        let counters = Arc::new(crate::sink::OutputCounters::default());
        counters.dropped.store(2, Relaxed);
        let outputs = OutputReport(vec![(spec, counters)]);
        let page = render(&Sources {
            summary: &summary,
            kernel: Some(&KernelCounters::default()),
            kernel_costs: &[],
            unowned: 1,
            outputs: &outputs,
            source_drops: &[("xdp_rx_ring_full", 5)],
        });
        assert!(page.contains("netcore_packets_total 7\n"), "{page}");
        assert!(page.contains("netcore_dropped_total{stage=\"xdp_rx_ring_full\"} 5\n"));
        assert!(page.contains("netcore_events_total{event=\"net_packet_tcp\"} 3\n"));
        assert!(page.contains(
            "netcore_output_events_total{output=\"file:/tmp/a\\\"b\",outcome=\"dropped\"} 2\n"
        ));
        for line in page.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                page.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE"
            );
        }
    }
}
