//! Live capture. Host mode: every packet local sockets send and receive, from the
//! cgroup_skb programs' ring buffer, attributed to the task that owns its socket. AF_XDP
//! mode: every frame arriving on a capture interface, attributed to the local socket
//! bound to its destination port.

use netcore_core::flow::failure::SocketReport;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use netcore_core::abi::flow_counts::{FlowCountKey, FlowCounters};

use anyhow::{Context, Result};
use netcore_core::abi::OwnerHandoff;

use super::FLUSH_EVERY;

/// How often OTLP outputs get the counters as metrics without `--stats`.
const OTLP_METRICS_EVERY: Duration = Duration::from_secs(10);
use super::budget::CpuBudget;
use super::pipelines::Pipelines;
use super::source_threads::SourceThreads;
use super::thread::Builder;
use crate::kernel::loader::{
    CaptureConfig, Costs, FlowCountTable, KernelCounters, ProgramCost, Programs, Shedding,
    XdpAttachMode,
};
use crate::kernel::seed;
use crate::pipeline::{ContainerReport, Summary};
use crate::sink::OutputReport;
use crate::sink::metrics::{self, Metrics, MetricsListener};
use crate::source::ring::{RingSource, WallClock, monotonic_ns};
use crate::source::xsk::{BindMode, XskSource};
use crate::source::{Frame, FrameHandler, Interface, LiveSource, SourceStats, Wake, wall_clock_ns};
use crate::state::flows::{KernelFlowCounts, idle_timeout_ns};

/// Host-mode settings from the command line.
#[derive(Debug, Clone)]
pub struct HostCapture {
    /// The cgroup v2 directory to attach to (its whole subtree is captured).
    pub cgroup: PathBuf,
    /// Kernel program settings.
    pub config: CaptureConfig,
    /// Print a statistics line on stderr this often.
    pub stats_every: Option<Duration>,
    /// Serve Prometheus metrics here.
    pub metrics: Option<SocketAddr>,
    /// Where the flow tables find the capture programs' flow counters once they are
    /// loaded (flow accounting, [`CaptureConfig::kernel_flows`]).
    pub kernel_flows: Option<Arc<KernelFlows>>,
    /// `--cpu-budget`: the fraction of one core the process may use.
    pub cpu_budget: Option<f64>,
}

/// The capture programs' flow counters, for flow tables built before the programs are
/// loaded: none until then.
#[derive(Debug, Default)]
pub struct KernelFlows {
    table: OnceLock<FlowCountTable>,
    /// Entries no flow table tracked, removed ([`KernelFlows::remove_stale`]).
    stale: AtomicU64,
}

impl KernelFlows {
    /// How often [`KernelFlows::remove_stale`] looks.
    const STALE_EVERY: Duration = Duration::from_secs(10);

    /// Removes the kernel's entries of flows no flow table tracks: idle past their idle
    /// timeout and a margin (a table tracking the flow would have ended it and taken its
    /// entry). Counts them.
    fn remove_stale(&self) {
        let Some(table) = self.table.get() else {
            return;
        };
        let now = monotonic_ns();
        let margin = 2 * Self::STALE_EVERY.as_nanos() as u64;
        let removed =
            table.remove_stale(|key| now.saturating_sub(idle_timeout_ns(key.protocol) + margin));
        self.stale.fetch_add(removed, Ordering::Relaxed);
    }

    /// Entries removed as stale so far.
    fn stale(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }
}

impl KernelFlowCounts for KernelFlows {
    fn read(&self, key: &FlowCountKey, take: bool) -> Option<FlowCounters> {
        let mut counters = self.table.get()?.read(key, take)?;
        let clock = WallClock::of_monotonic();
        counters.first_ns = clock.wall_ns(counters.first_ns);
        counters.last_ns = clock.wall_ns(counters.last_ns);
        Some(counters)
    }
}

/// Host mode's kernel side and sockets, set up before any other thread starts so that
/// the run can give up its privileges after ([`super::privileges`]): the programs
/// attached, the sockets older than netcore seeded, the ring buffers' event loops, the
/// metrics socket.
pub struct HostAttached {
    programs: Programs,
    sources: Vec<RingSource>,
    seeded: usize,
    metrics: Option<MetricsListener>,
}

impl HostCapture {
    /// Attaches the programs and opens what the run reads; the programs are detached
    /// when the result is dropped.
    pub fn attach(&self) -> Result<HostAttached> {
        let mut programs = Programs::attach_host_capture(self.config, &self.cgroup)?;
        if let Some(kernel_flows) = &self.kernel_flows {
            let _ = kernel_flows.table.set(programs.take_flow_counts()?);
        }
        if self.stats_every.is_some() {
            programs.time_programs();
        }
        let seeded = seed_existing_sockets(&mut programs, &self.cgroup)?;
        let tick = self.stats_every.unwrap_or(Duration::from_secs(1));
        let sources = programs
            .take_rings(self.config.rings)?
            .into_iter()
            .map(|ring| RingSource::new(ring, tick))
            .collect::<io::Result<Vec<_>>>()
            .context("setting up the event loops")?;
        Ok(HostAttached {
            programs,
            sources,
            seeded,
            metrics: bind_metrics(self.metrics)?,
        })
    }
}

/// Captures from `attached` until SIGINT/SIGTERM, then prints the summary. The programs
/// are detached when this returns, whatever happened. `pipelines` drain the first ring
/// buffer on this thread; each of `more` (as many as [`CaptureConfig::rings`] beyond the
/// first) drains one more on a thread of its own ([`SourceThreads`]).
pub fn run(
    capture: &HostCapture,
    attached: HostAttached,
    pipelines: Pipelines,
    more: Vec<Builder>,
) -> Result<()> {
    let HostAttached {
        programs,
        mut sources,
        seeded,
        metrics,
    } = attached;
    let mut source = sources.remove(0);
    let more = start_threads(&pipelines, more, sources)?;
    note!(
        "netcore: capturing on cgroup {} (snaplen {} bytes, {seeded} existing sockets \
         attributed, {}); Ctrl-C stops",
        capture.cgroup.display(),
        capture.config.snaplen,
        match 1 + more.as_ref().map_or(0, SourceThreads::len) {
            1 => format!("ring buffer {} MiB", capture.config.ring_bytes >> 20),
            n => format!(
                "decoding on {n} threads, each draining a ring buffer of {} MiB",
                capture.config.ring_bytes >> 20
            ),
        },
    );
    let metrics = serve_metrics(metrics)?;
    let stats = capture.stats_every.is_some();
    let mut live = Live::new(pipelines, programs, stats, metrics, more)
        .with_kernel_flows(capture.kernel_flows.clone(), capture.cpu_budget);
    let outcome = source.run(&mut live);
    let ended = live.finish(outcome)?;
    let malformed = match ended
        .sources
        .iter()
        .chain([&source])
        .map(|s| s.malformed)
        .sum()
    {
        0 => String::new(),
        n => format!("; {n} malformed ring entries"),
    };
    let kernel = ended.kernel;
    let copies_lost = match kernel.copies_lost {
        0 => String::new(),
        n => format!(", {n} copies of DNS messages for other threads lost to a full ring buffer"),
    };
    note!(
        "netcore: host capture: {}; kernel: {} packets captured, {} lost to a full ring \
         buffer, {} filtered out{copies_lost}{}; {}{malformed}",
        ended.summary,
        kernel.captured,
        kernel.ring_full,
        kernel.filtered,
        kernel.accounting_and_shedding(),
        ended.owners,
    );
    report_outputs(&ended.outputs);
    Ok(())
}

/// Starts a thread for each of `sources` with a pipeline of `more` (host mode's rings and
/// AF_XDP's queue groups beyond the first), writing into `pipelines`' outputs; none
/// when there are none.
fn start_threads<S: LiveSource>(
    pipelines: &Pipelines,
    more: Vec<Builder>,
    sources: Vec<S>,
) -> Result<Option<SourceThreads<S>>> {
    if more.is_empty() {
        return Ok(None);
    }
    let threads = SourceThreads::start(more, sources, &pipelines.output_queues())
        .context("starting the decoding threads")?;
    Ok(Some(threads))
}

/// Binds the metrics socket, if asked for.
fn bind_metrics(addr: Option<SocketAddr>) -> Result<Option<MetricsListener>> {
    addr.map(|addr| MetricsListener::bind(addr).with_context(|| format!("--metrics {addr}")))
        .transpose()
}

/// Serves the metrics page on the socket bound at start-up, if any.
fn serve_metrics(listener: Option<MetricsListener>) -> Result<Option<Metrics>> {
    listener
        .map(|listener| {
            let addr = listener.local_addr()?;
            let metrics = listener.serve().context("--metrics: starting its thread")?;
            note!("netcore: metrics at http://{addr}/metrics");
            Ok(metrics)
        })
        .transpose()
}

/// The outputs' line of the summary, when there is more to say than "stdout took it all".
fn report_outputs(outputs: &OutputReport) {
    if outputs.worth_reporting() {
        note!("netcore: outputs: {outputs}");
    }
}

/// Seeds the attribution maps with the sockets older than netcore; says what it could not
/// see. Returns how many sockets it attributed.
fn seed_existing_sockets(programs: &mut Programs, cgroup: &Path) -> Result<usize> {
    let seed = seed::existing_sockets(cgroup);
    let seeded = programs.seed(&seed)?;
    if let Some(blind) = seed.blind_spots() {
        note!("netcore: warning: {blind}");
    }
    Ok(seeded)
}

/// AF_XDP-mode settings from the command line.
#[derive(Debug, Clone)]
pub struct XdpCapture {
    /// The capture interface.
    pub interface: String,
    /// Its index.
    pub ifindex: u32,
    /// The rx queues to read.
    pub queues: Vec<u32>,
    /// The cgroup whose sockets attribute frames (the cgroup v2 root).
    pub cgroup: PathBuf,
    /// Kernel program settings (the filter applies; snaplen and ring size do not).
    pub config: CaptureConfig,
    /// Print a statistics line on stderr this often.
    pub stats_every: Option<Duration>,
    /// Consume frames without decoding them (the benchmark's raw loop).
    pub discard: bool,
    /// How each frame's owner is handed over (decided at start-up, `--xdp-owner`).
    pub owner_handoff: OwnerHandoff,
    /// Serve Prometheus metrics here.
    pub metrics: Option<SocketAddr>,
}

/// AF_XDP mode's kernel side and sockets, set up before any other thread starts (see
/// [`HostAttached`]): the programs and XDP attached, the AF_XDP sockets bound and split
/// into one part per decoding thread, the metrics socket.
pub struct XdpAttached {
    programs: Programs,
    sources: Vec<XskSource>,
    /// How XDP was attached.
    mode: XdpAttachMode,
    metrics: Option<MetricsListener>,
}

impl XdpCapture {
    /// Attaches XDP and binds the AF_XDP sockets, split for `threads` decoding threads;
    /// XDP is detached when the result is dropped.
    pub fn attach(&self, threads: usize) -> Result<XdpAttached> {
        let handoff = self.owner_handoff;
        let mut programs = Programs::load(self.config)?;
        programs.attach_attribution(&self.cgroup)?;
        if self.stats_every.is_some() {
            programs.time_programs();
        }
        seed_existing_sockets(&mut programs, &self.cgroup)?;
        let tick = self.stats_every.unwrap_or(Duration::from_secs(1));
        let index = Interface {
            ifindex: self.ifindex,
            netns_cookie: seed::netns_cookie()?,
        };
        let source = XskSource::open(
            &self.interface,
            index,
            &self.queues,
            self.discard,
            handoff,
            tick,
            |queue, fd| programs.set_xsk(queue, fd),
        )?;
        let mode = programs.attach_xdp(self.ifindex, &self.interface, handoff)?;
        let sources = source
            .split(threads, tick)
            .context("setting up the event loops")?;
        Ok(XdpAttached {
            programs,
            sources,
            mode,
            metrics: bind_metrics(self.metrics)?,
        })
    }
}

/// Captures from `attached` until SIGINT/SIGTERM, prints the summary. XDP is detached
/// when this returns, whatever happened. With several rx queues, each of `more` decodes
/// the frames of some queues on a thread of its own ([`XskSource::split`]), `pipelines`
/// those of the rest on this thread.
pub fn run_xdp(
    capture: &XdpCapture,
    attached: XdpAttached,
    pipelines: Pipelines,
    more: Vec<Builder>,
) -> Result<()> {
    let handoff = capture.owner_handoff;
    let XdpAttached {
        programs,
        mut sources,
        mode,
        metrics,
    } = attached;
    let mut source = sources.remove(0);
    let more = start_threads(&pipelines, more, sources)?;
    let threads = pipelines.threads() + more.as_ref().map_or(0, SourceThreads::len);
    note!(
        "netcore: capturing on {} with AF_XDP (queues {:?}, {} mode, XDP {mode:?}, owners \
         {}{}); Ctrl-C stops",
        capture.interface,
        capture.queues,
        match source.mode {
            BindMode::ZeroCopy => "zero-copy",
            BindMode::Copy => "copy",
        },
        handoff.phrase(),
        match (threads, &more) {
            (1, _) => String::new(),
            (n, Some(_)) => format!(", decoding on {n} threads, each reading its own queues"),
            (n, None) => format!(", decoding on {n} threads"),
        },
    );
    let metrics = serve_metrics(metrics)?;
    let stats = capture.stats_every.is_some();
    let mut live = Live::new(pipelines, programs, stats, metrics, more);
    let outcome = source.run(&mut live);
    let ended = live.finish(outcome)?;
    let all_sources = || ended.sources.iter().chain([&source]);
    let frames: u64 = all_sources().map(|s| s.frames).sum();
    let malformed = match all_sources().map(|s| s.malformed).sum() {
        0 => String::new(),
        n => format!("; {n} frames too short to carry their owner"),
    };
    let stats = source.stats();
    let no_metadata = match ended.kernel.xdp_no_metadata {
        0 => String::new(),
        n => format!(
            "; {n} frames passed to the kernel uncaptured: the driver of {} has no room for \
             XDP metadata (use --xdp-owner prepended)",
            capture.interface
        ),
    };
    note!(
        "netcore: AF_XDP capture: {frames} frames received; {}; {stats}; {} invalid \
         descriptors; {}{no_metadata}{malformed}",
        ended.summary,
        stats.invalid_descs,
        ended.owners,
    );
    report_outputs(&ended.outputs);
    Ok(())
}

/// The state of a live run whose other decoding threads (if any) read sources `S`.
struct Live<S> {
    pipelines: Pipelines,
    programs: Programs,
    print_stats: bool,
    /// `--metrics`: the page, rendered at each tick.
    metrics: Option<Metrics>,
    /// When the counters last went to the OTLP outputs.
    last_otlp_metrics: Instant,
    /// When the last statistics line was printed, and the packet count then.
    last_stats: (Instant, u64),
    /// Whether the reader of our output went away (`netcore --json | head`).
    reader_closed: bool,
    /// When the output was last written out.
    last_flush: Instant,
    /// The threads reading the source's other parts (host mode's rings, AF_XDP's
    /// queues), when there are several.
    more: Option<SourceThreads<S>>,
    /// The capture programs' flow counters (host mode's flow accounting), and when their
    /// stale entries were last removed.
    kernel_flows: Option<(Arc<KernelFlows>, Instant)>,
    /// `--cpu-budget`, and what it had the capture programs do.
    budget: Option<CpuBudget>,
}

/// What a live run ended with.
struct Ended<S> {
    summary: Summary,
    kernel: KernelCounters,
    /// A phrase on packet owners, and with `--stats` the programs' kernel time.
    owners: String,
    outputs: OutputReport,
    /// The sources of the other decoding threads, for their own counts.
    sources: Vec<S>,
}

impl<S: LiveSource> FrameHandler for Live<S> {
    fn frame(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        let result = self.pipelines.handle(frame);
        self.note(result)
    }

    fn learn_names(&mut self, frame: &Frame<'_>) {
        self.pipelines.learn_names(frame);
    }

    fn socket_report(&mut self, frame: &Frame<'_>, report: SocketReport) -> io::Result<()> {
        let result = self.pipelines.socket_report(frame, report);
        self.note(result)
    }

    fn wake(&mut self, wake: Wake, source_stats: &dyn SourceStats) -> io::Result<()> {
        match wake {
            // Write out at most every FLUSH_EVERY: a write per small batch costs more than
            // the events in it.
            Wake::Polled if self.last_flush.elapsed() >= FLUSH_EVERY => {
                self.last_flush = Instant::now();
                self.keep_to_budget();
                let result = self.pipelines.flush();
                self.note(result)
            }
            Wake::Polled => Ok(()),
            Wake::Tick => {
                self.pipelines.tick(wall_clock_ns());
                self.keep_to_budget();
                if let Some((kernel_flows, last)) = &mut self.kernel_flows
                    && last.elapsed() >= KernelFlows::STALE_EVERY
                {
                    *last = Instant::now();
                    kernel_flows.remove_stale();
                }
                // OTLP outputs take the counters each --stats interval, else every
                // OTLP_METRICS_EVERY.
                let otlp_due = self.pipelines.want_metrics()
                    && (self.print_stats || self.last_otlp_metrics.elapsed() >= OTLP_METRICS_EVERY);
                if self.metrics.is_none() && !self.print_stats && !otlp_due {
                    return Ok(());
                }
                // Read once for the metrics, OTLP and the stats line.
                let kernel = self.kernel_counters();
                let costs = self.programs.costs();
                let outputs = self.pipelines.outputs_now();
                let (summary, unowned) = self.counts();
                let sources = metrics::Sources {
                    summary: &summary,
                    kernel: Some(&kernel),
                    kernel_costs: costs.as_deref().unwrap_or_default(),
                    unowned,
                    outputs: &outputs,
                    source_drops: &source_stats.drops(),
                };
                if let Some(metrics) = &self.metrics {
                    metrics.publish(metrics::render(&sources));
                }
                if otlp_due {
                    self.last_otlp_metrics = Instant::now();
                    self.pipelines.publish_metrics(&sources);
                }
                if self.print_stats {
                    let counts = (&summary, unowned);
                    self.print_stats(counts, source_stats, &kernel, costs.as_deref(), &outputs);
                }
                Ok(())
            }
            // Write out what is pending; file outputs reopen their files (logrotate).
            Wake::Hangup => {
                self.pipelines.hang_up();
                note!(
                    "netcore: SIGHUP: events written out, output files reopened; capture goes on"
                );
                let result = self.pipelines.flush();
                self.note(result)
            }
        }
    }

    fn finished(&self) -> bool {
        self.pipelines.done() || self.more.as_ref().is_some_and(SourceThreads::any_ended)
    }
}

impl<S: LiveSource> Live<S> {
    /// A run writing through `pipelines`, with `programs` attached and `more` threads
    /// decoding the source's other parts.
    fn new(
        pipelines: Pipelines,
        programs: Programs,
        print_stats: bool,
        metrics: Option<Metrics>,
        more: Option<SourceThreads<S>>,
    ) -> Self {
        Live {
            pipelines,
            programs,
            print_stats,
            metrics,
            last_otlp_metrics: Instant::now(),
            last_stats: (Instant::now(), 0),
            reader_closed: false,
            last_flush: Instant::now(),
            more,
            kernel_flows: None,
            budget: None,
        }
    }

    /// Removes the stale entries of `kernel_flows` now and then, and counts them; keeps
    /// the process within `cpu_budget` (host mode).
    fn with_kernel_flows(
        self,
        kernel_flows: Option<Arc<KernelFlows>>,
        cpu_budget: Option<f64>,
    ) -> Self {
        Live {
            kernel_flows: kernel_flows.map(|k| (k, Instant::now())),
            budget: cpu_budget.map(CpuBudget::new),
            ..self
        }
    }

    /// `--cpu-budget`: has the capture programs shed more or less work when the CPU used
    /// since the last measurement calls for it.
    fn keep_to_budget(&mut self) {
        if let Some(budget) = &mut self.budget
            && let Some(every) = budget.adjust()
            && let Err(e) = self.programs.shed(every)
        {
            note!("netcore: warning: --cpu-budget: {e:#}");
        }
    }

    /// The kernel programs' counters, with the stale flow entries removed and what the
    /// CPU budget had the programs do.
    fn kernel_counters(&self) -> KernelCounters {
        KernelCounters {
            flows_stale: self.kernel_flows.as_ref().map_or(0, |(k, _)| k.stale()),
            shedding: self
                .budget
                .as_ref()
                .map_or_else(Shedding::default, |b| b.shedding),
            ..self.programs.counters().unwrap_or_default()
        }
    }

    /// The counts of every decoding thread so far, and the frames without a known owner.
    fn counts(&self) -> (Summary, u64) {
        let mut summary = self.pipelines.summary().into_owned();
        let mut unowned = self.pipelines.unowned();
        for counts in self.more.iter().flat_map(SourceThreads::counts) {
            summary.absorb(counts.summary);
            unowned += counts.unowned;
        }
        (summary, unowned)
    }

    /// Ends the run: flushes, reads the kernel counters, detaches every program, stops the
    /// other threads. Returns what the run counted; an error of the run or of the last
    /// write, unless the reader of the output left.
    fn finish(self, outcome: io::Result<i32>) -> Result<Ended<S>> {
        let kernel = self.kernel_counters();
        let Live {
            pipelines,
            programs,
            reader_closed,
            more,
            ..
        } = self;
        let costs = programs.costs();
        drop(programs); // Detach before the summary: capture is over.
        // The other threads hand over their last batches before the outputs close.
        let ends = more.map(SourceThreads::stop).unwrap_or_default();
        let mut ending = pipelines.close(wall_clock_ns(), false);
        let mut per_thread = vec![ending.summary.packets];
        let mut sources = Vec::new();
        for end in ends {
            match end {
                Ok((end, source)) => {
                    per_thread.push(end.counts.summary.packets);
                    ending.absorb(end);
                    sources.push(source);
                }
                Err(e) => ending.written = ending.written.and(Err(e)),
            }
        }
        let mut owners = format!(
            "{} without an owning task, {} task/container-table entries evicted",
            ending.unowned, ending.evicted,
        );
        if per_thread.len() > 1 {
            let packets: Vec<String> = per_thread.iter().map(u64::to_string).collect();
            owners.push_str(&format!(
                "; packets per decoding thread: {}",
                packets.join(", ")
            ));
        }
        // Containers only when there were any.
        if ending.containers != ContainerReport::default() {
            owners.push_str(&format!("; {}", ending.containers));
        }
        if let Some(costs) = costs {
            owners.push_str(&format!("; {}", Costs(&costs)));
        }
        let reader_closed = reader_closed
            || matches!(&ending.written, Err(e) if e.kind() == io::ErrorKind::BrokenPipe);
        if !reader_closed {
            outcome.context("capturing")?;
            ending.written.context("writing events")?;
        }
        Ok(Ended {
            summary: ending.summary,
            kernel,
            owners,
            outputs: ending.outputs,
            sources,
        })
    }

    /// Remembers whether a write failed because the reader left.
    fn note(&mut self, result: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &result {
            self.reader_closed = e.kind() == io::ErrorKind::BrokenPipe;
        }
        result
    }

    /// One `--stats` line: totals (`counts`, with the frames without an owner), the packet
    /// rate since the last line, and the source's drop counters.
    fn print_stats(
        &mut self,
        (summary, unowned): (&Summary, u64),
        source_stats: &dyn SourceStats,
        kernel: &KernelCounters,
        costs: Option<&[ProgramCost]>,
        outputs: &OutputReport,
    ) {
        let source = match source_stats.to_string() {
            stats if stats.is_empty() => stats,
            stats => format!("; {stats}"),
        };
        let costs = match costs {
            Some(costs) => format!("; {}", Costs(costs)),
            None => String::new(),
        };
        let (at, packets_before) = self.last_stats;
        let seconds = at.elapsed().as_secs_f64().max(1e-9);
        note!(
            "netcore: stats: {} packets ({:.0}/s), {} events, {} without an owning task; \
             kernel: {} lost to a full ring buffer, {} filtered out{}{source}{costs}{}",
            summary.packets,
            (summary.packets - packets_before) as f64 / seconds,
            summary.events,
            unowned,
            kernel.ring_full,
            kernel.filtered,
            kernel.accounting_and_shedding(),
            match outputs.worth_reporting() {
                true => format!("; outputs: {outputs}"),
                false => String::new(),
            }
        );
        self.last_stats = (Instant::now(), summary.packets);
    }
}
