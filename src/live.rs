//! Live capture. Host mode: every packet local sockets send and receive, from the
//! cgroup_skb programs' ring buffer, attributed to the task that owns its socket. AF_XDP
//! mode: every frame arriving on a capture interface, attributed to the local socket
//! bound to its destination port.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use netcore_core::record::{FrameOwner, TaskContext};
use netcore_core::{EventContext, LinkType};

use crate::attribution::TaskTable;
use crate::loader::{CaptureConfig, KernelCounters, Programs};
use crate::output::Summary;
use crate::pipeline::Pipeline;
use crate::seed;
use crate::source::event_loop::Wake;
use crate::source::ring::{Record, RecordHandler, RingSource, WallClock};
use crate::source::xsk::{BindMode, FrameHandler, XskSource, XskStats};

/// Host-mode settings from the command line.
#[derive(Debug, Clone)]
pub struct HostCapture {
    /// The cgroup v2 directory to attach to (its whole subtree is captured).
    pub cgroup: PathBuf,
    /// Kernel program settings.
    pub config: CaptureConfig,
    /// Print a statistics line on stderr this often.
    pub stats_every: Option<Duration>,
}

/// Attaches, captures until SIGINT/SIGTERM, then prints the summary. The programs are
/// detached when this returns, whatever happened.
pub fn run<W: Write>(capture: &HostCapture, pipeline: Pipeline<W>, host_name: &str) -> Result<()> {
    let mut programs = Programs::attach_host_capture(capture.config, &capture.cgroup)?;
    let seeded = programs.seed(&seed::existing_sockets(&capture.cgroup))?;
    let tick = capture.stats_every.unwrap_or(Duration::from_secs(1));
    let mut source =
        RingSource::new(programs.take_ring()?, tick).context("setting up the event loop")?;
    eprintln!(
        "netcore: capturing on cgroup {} (snaplen {} bytes, ring buffer {} MiB, {seeded} \
         existing sockets attributed); Ctrl-C stops",
        capture.cgroup.display(),
        capture.config.snaplen,
        capture.config.ring_bytes >> 20
    );
    let mut live = Live::new(pipeline, programs, host_name, capture.stats_every.is_some());
    let outcome = source.run(&mut live);
    let (summary, kernel, unowned) = live.finish(outcome)?;
    let malformed = match source.malformed {
        0 => String::new(),
        n => format!("; {n} malformed ring entries"),
    };
    eprintln!(
        "netcore: host capture: {summary}; kernel: {} packets captured, {} lost to a full ring \
         buffer, {} filtered out; {unowned} without an owning task{malformed}",
        kernel.captured, kernel.ring_full, kernel.filtered,
    );
    Ok(())
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
}

/// Attaches XDP and the AF_XDP sockets, captures until SIGINT/SIGTERM, prints the
/// summary. XDP is detached when this returns, whatever happened.
pub fn run_xdp<W: Write>(
    capture: &XdpCapture,
    pipeline: Pipeline<W>,
    host_name: &str,
) -> Result<()> {
    let mut programs = Programs::load(capture.config)?;
    programs.attach_attribution(&capture.cgroup)?;
    programs.seed(&seed::existing_sockets(&capture.cgroup))?;
    let tick = capture.stats_every.unwrap_or(Duration::from_secs(1));
    let mut source = XskSource::open(&capture.interface, &capture.queues, tick, |queue, fd| {
        programs.set_xsk(queue, fd)
    })?;
    let mode = programs.attach_xdp(capture.ifindex, &capture.interface)?;
    eprintln!(
        "netcore: capturing on {} with AF_XDP (queues {:?}, {} mode, XDP {mode:?}); Ctrl-C stops",
        capture.interface,
        source.queue_ids().collect::<Vec<_>>(),
        match source.mode {
            BindMode::ZeroCopy => "zero-copy",
            BindMode::Copy => "copy",
        },
    );
    let mut live = Live::new(pipeline, programs, host_name, capture.stats_every.is_some());
    let mut frames = XdpFrames {
        live: &mut live,
        discard: capture.discard,
        now_ns: 0,
        cpu: 0,
    };
    let outcome = source.run(&mut frames);
    let (summary, _, unowned) = live.finish(outcome)?;
    let stats = source.stats();
    eprintln!(
        "netcore: AF_XDP capture: {} frames received; {summary}; {}; {} invalid \
         descriptors; {unowned} without an owning task",
        source.frames, stats, stats.invalid_descs,
    );
    Ok(())
}

/// Frames from the AF_XDP sockets into a [`Live`] run.
struct XdpFrames<'l, 'h, W: Write> {
    live: &'l mut Live<'h, W>,
    /// Count frames, decode nothing (the raw loop the benchmark compares against).
    discard: bool,
    /// Wall-clock time and CPU of the current batch.
    now_ns: u64,
    cpu: u32,
}

impl<W: Write> FrameHandler for XdpFrames<'_, '_, W> {
    fn frame(&mut self, owner: &FrameOwner, frame: &[u8]) -> io::Result<()> {
        if self.discard {
            return Ok(());
        }
        if self.now_ns == 0 {
            self.now_ns = WallClock::now().wall_ns(0);
            // SAFETY: no preconditions.
            self.cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
        }
        let task = TaskContext {
            cgroup_id: owner.cgroup_id,
            host_pid: owner.host_pid,
            host_tid: owner.host_tid,
            uid: owner.uid,
            ..TaskContext::default()
        };
        let live = &mut *self.live;
        let mut ctx = EventContext {
            timestamp: self.now_ns,
            processor_id: self.cpu,
            host_name: live.host_name,
            ..Default::default()
        };
        if task.is_known() {
            let info = live.tasks.lookup(&task, Instant::now());
            ctx = Live::<W>::task_envelope_of(ctx, &task, info, &info.comm);
        } else {
            live.unowned += 1;
        }
        let result = live.pipeline.handle(&ctx, LinkType::Ethernet, frame);
        live.note(result)
    }

    fn wake(&mut self, wake: Wake, sockets: &XskStats) -> io::Result<()> {
        self.now_ns = 0;
        let sockets = match wake {
            Wake::Tick => sockets.to_string(),
            Wake::Polled => String::new(),
        };
        self.live.on_wake(wake, &sockets)
    }
}

/// The state of a live run.
struct Live<'a, W: Write> {
    pipeline: Pipeline<W>,
    programs: Programs,
    tasks: TaskTable,
    clock: WallClock,
    host_name: &'a str,
    print_stats: bool,
    /// Records read whose socket had no known owner.
    unowned: u64,
    /// When the last statistics line was printed, and the packet count then.
    last_stats: (Instant, u64),
    /// Whether the reader of our output went away (`netcore --json | head`).
    reader_closed: bool,
    /// When the output was last written out.
    last_flush: Instant,
}

/// How long events may wait in the output buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

impl<W: Write> RecordHandler for Live<'_, W> {
    fn record(&mut self, record: Record<'_>) -> io::Result<()> {
        let header = record.header;
        let task = &header.task;
        let mut ctx = EventContext {
            timestamp: self.clock.wall_ns(header.boot_ns),
            processor_id: header.cpu,
            cgroup_id: header.socket_cgroup_id,
            host_name: self.host_name,
            ..Default::default()
        };
        if task.is_known() {
            let info = self.tasks.lookup(task, Instant::now());
            ctx = Self::task_envelope_of(ctx, task, info, task.comm());
        } else {
            self.unowned += 1;
        }
        let result = self.pipeline.handle(&ctx, LinkType::Raw, record.data);
        self.note(result)
    }

    fn wake(&mut self, wake: Wake) -> io::Result<()> {
        let kernel = match wake {
            Wake::Tick if self.print_stats => {
                let k = self.programs.counters().unwrap_or_default();
                format!(
                    "{} lost to a full ring buffer, {} filtered out in the kernel",
                    k.ring_full, k.filtered
                )
            }
            _ => String::new(),
        };
        self.on_wake(wake, &kernel)
    }
}

impl<'h, W: Write> Live<'h, W> {
    /// A run writing through `pipeline`, with `programs` attached.
    fn new(
        pipeline: Pipeline<W>,
        programs: Programs,
        host_name: &'h str,
        print_stats: bool,
    ) -> Self {
        Live {
            pipeline,
            programs,
            tasks: TaskTable::default(),
            clock: WallClock::now(),
            host_name,
            print_stats,
            unowned: 0,
            last_stats: (Instant::now(), 0),
            reader_closed: false,
            last_flush: Instant::now(),
        }
    }

    /// Ends the run: flushes, reads the kernel counters, detaches every program. Returns
    /// the pipeline's summary, the kernel counters and the count of unowned packets; an
    /// error of the run or of the last write, unless the reader of the output left.
    fn finish(self, outcome: io::Result<i32>) -> Result<(Summary, KernelCounters, u64)> {
        let Live {
            mut pipeline,
            programs,
            reader_closed,
            unowned,
            ..
        } = self;
        let flushed = pipeline.flush();
        let kernel = programs.counters().unwrap_or_default();
        drop(programs); // Detach before the summary: capture is over.
        if !reader_closed {
            outcome.context("capturing")?;
            flushed.context("writing events")?;
        }
        Ok((pipeline.summary, kernel, unowned))
    }

    /// After a poll round or on a tick; `source_stats` describes the source's own drop
    /// counters for the `--stats` line (on ticks).
    fn on_wake(&mut self, wake: Wake, source_stats: &str) -> io::Result<()> {
        match wake {
            // Write out at most every FLUSH_EVERY: a write per small batch costs more than
            // the events in it.
            Wake::Polled if self.last_flush.elapsed() >= FLUSH_EVERY => {
                self.last_flush = Instant::now();
                let result = self.pipeline.flush();
                self.note(result)
            }
            Wake::Polled => Ok(()),
            Wake::Tick => {
                self.clock = WallClock::now(); // Follow steps of the wall clock.
                if self.print_stats {
                    self.print_stats(source_stats);
                }
                Ok(())
            }
        }
    }

    /// `ctx` with the task fields of `task` (kernel view) and `info` (`/proc` view).
    fn task_envelope_of<'a>(
        ctx: EventContext<'a>,
        task: &TaskContext,
        info: &'a crate::attribution::TaskInfo,
        comm: &'a [u8],
    ) -> EventContext<'a> {
        EventContext {
            thread_start_time: info.start_time_ns,
            process_id: info.pid,
            cgroup_id: task.cgroup_id,
            thread_id: info.tid,
            parent_process_id: info.ppid,
            host_process_id: task.host_pid,
            host_thread_id: task.host_tid,
            host_parent_process_id: info.host_ppid,
            user_id: task.uid,
            mount_namespace: info.mount_ns,
            pid_namespace: info.pid_ns,
            process_name: comm,
            container_id: &info.container_id,
            container_started: !info.container_id.is_empty(),
            ..ctx
        }
    }

    /// Remembers whether a write failed because the reader left.
    fn note(&mut self, result: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &result {
            self.reader_closed = e.kind() == io::ErrorKind::BrokenPipe;
        }
        result
    }

    /// One `--stats` line: totals, the packet rate since the last line, and the source's
    /// drop counters.
    fn print_stats(&mut self, source_stats: &str) {
        let summary = &self.pipeline.summary;
        let (at, packets_before) = self.last_stats;
        let seconds = at.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "netcore: stats: {} packets ({:.0}/s), {} events, {} without an owning task; {source_stats}",
            summary.packets,
            (summary.packets - packets_before) as f64 / seconds,
            summary.events,
            self.unowned
        );
        self.last_stats = (Instant::now(), summary.packets);
    }
}
