//! Host mode: every packet local sockets send and receive, from the cgroup_skb programs'
//! ring buffer, attributed to the task that owns its socket.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use netcore_core::{EventContext, LinkType};

use crate::attribution::TaskTable;
use crate::loader::{CaptureConfig, HostPrograms, KernelCounters};
use crate::pipeline::Pipeline;
use crate::source::ring::{Record, RecordHandler, RingSource, Wake, WallClock};

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
    let mut programs = HostPrograms::attach(&capture.cgroup, capture.config)?;
    let mut source = RingSource::new(programs.take_ring()?).context("setting up the event loop")?;
    eprintln!(
        "netcore: capturing on cgroup {} (snaplen {} bytes, ring buffer {} MiB); Ctrl-C stops",
        capture.cgroup.display(),
        capture.config.snaplen,
        capture.config.ring_bytes >> 20
    );
    let mut live = Live {
        pipeline,
        programs,
        tasks: TaskTable::default(),
        clock: WallClock::now(),
        host_name,
        print_stats: capture.stats_every.is_some(),
        unowned: 0,
        last_stats: (Instant::now(), 0, KernelCounters::default()),
        reader_closed: false,
    };
    let tick = capture.stats_every.unwrap_or(Duration::from_secs(1));
    let outcome = source.run(tick, &mut live);
    let flushed = live.pipeline.flush();
    let kernel = live.programs.counters().unwrap_or_default();
    drop(live.programs); // Detach before the summary: capture is over.
    if !live.reader_closed {
        outcome.context("capturing")?;
        flushed.context("writing events")?;
    }
    let malformed = match source.malformed {
        0 => String::new(),
        n => format!("; {n} malformed ring entries"),
    };
    eprintln!(
        "netcore: host capture: {}; kernel: {} packets captured, {} lost to a full ring \
         buffer, {} filtered out; {} without an owning task{malformed}",
        live.pipeline.summary, kernel.captured, kernel.ring_full, kernel.filtered, live.unowned,
    );
    Ok(())
}

/// The state of a host-mode run.
struct Live<'a, W: Write> {
    pipeline: Pipeline<W>,
    programs: HostPrograms,
    tasks: TaskTable,
    clock: WallClock,
    host_name: &'a str,
    print_stats: bool,
    /// Records read whose socket had no known owner.
    unowned: u64,
    /// When the last statistics line was printed, the packet count and kernel counters then.
    last_stats: (Instant, u64, KernelCounters),
    /// Whether the reader of our output went away (`netcore --json | head`).
    reader_closed: bool,
}

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
            ctx = EventContext {
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
                process_name: task.comm(),
                container_id: &info.container_id,
                container_started: !info.container_id.is_empty(),
                ..ctx
            };
        } else {
            self.unowned += 1;
        }
        let result = self.pipeline.handle(&ctx, LinkType::Raw, record.data);
        self.note(result)
    }

    fn wake(&mut self, wake: Wake) -> io::Result<()> {
        match wake {
            Wake::Drained => {
                let result = self.pipeline.flush();
                self.note(result)
            }
            Wake::Tick => {
                self.clock = WallClock::now(); // Follow steps of the wall clock.
                if self.print_stats {
                    self.print_stats();
                }
                Ok(())
            }
        }
    }
}

impl<W: Write> Live<'_, W> {
    /// Remembers whether a write failed because the reader left.
    fn note(&mut self, result: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &result {
            self.reader_closed = e.kind() == io::ErrorKind::BrokenPipe;
        }
        result
    }

    /// One `--stats` line: totals and rates since the last line.
    fn print_stats(&mut self) {
        let kernel = self.programs.counters().unwrap_or_default();
        let summary = &self.pipeline.summary;
        let (at, packets_before, kernel_before) = self.last_stats;
        let seconds = at.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "netcore: stats: {} packets ({:.0}/s), {} events, {} lost to a full ring buffer \
             (+{}), {} without an owning task",
            summary.packets,
            (summary.packets - packets_before) as f64 / seconds,
            summary.events,
            kernel.ring_full,
            kernel.ring_full - kernel_before.ring_full,
            self.unowned
        );
        self.last_stats = (Instant::now(), summary.packets, kernel);
    }
}
