//! The drivers, and the one room that makes decoding threads. [`start`] turns a
//! [`Plan`] into a running topology: the source opened (a live mode's programs attached)
//! while the process still holds its privileges, then [`privileges`] and [`seccomp`]
//! before any thread, the outputs and packet taps (the sinks behind the pipeline's
//! ports), the pipelines and their threads, and the mode's driver — file mode
//! ([`file`]), host and AF_XDP mode ([`live`]). Decoding threads beyond the source's own
//! are made here only: [`sharded`] when one thread reads the source and shares its frames
//! out by flow, [`source_threads`] when the source itself is split by flow (host mode's
//! rings, AF_XDP's queues).

mod block;
mod budget;
pub mod file;
pub mod live;
mod pipelines;
mod privileges;
mod seccomp;
mod sharded;
mod source_threads;
mod thread;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::encode::Encoders;
use crate::kernel::loader::{CaptureConfig, KernelFlowCounting};
use crate::pipeline::{EventOutput, Host, PacketTap, Pipeline};
use crate::plan::{Mode, Plan};
use crate::sink::Outputs;
use crate::sink::capture::{PacketWriter, SharedPacketWriter};
use crate::sink::evidence::Evidence;
use crate::state::runtimes::{Lookups, Sockets};
use netcore_core::flow::FlowKind;
use pipelines::Pipelines;
use thread::Builder;

/// How long events may wait in the output buffer of a live run.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Runs `plan`: opens its source and gives up what the run no longer needs, starts its
/// sinks (a sink that cannot start is refused with exit code 2, naming its flag), builds
/// its pipelines on the threads they run on, and drives the mode to its end.
pub fn start(plan: Plan) -> ExitCode {
    // The source first: a live mode's programs, maps and sockets need privileges that
    // are given up before the first thread starts (privileges.rs).
    let parts = plan.source_parts();
    let source = match Source::open(&plan, parts) {
        Ok(source) => source,
        Err(e) => {
            note!("netcore: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = privileges::give_up(source.keeps()) {
        note!(
            "netcore: warning: could not give up privileges after start-up ({e}); running with them"
        );
    }
    if plan.seccomp
        && let Err(e) = seccomp::install()
    {
        note!("netcore: warning: {e}; running without a seccomp filter");
    }
    let sinks = match Sinks::start(&plan) {
        Ok(sinks) => sinks,
        Err(message) => {
            note!("netcore: {message}");
            return ExitCode::from(2);
        }
    };
    let live = plan.live();
    let cgroup_root = live.and_then(|l| l.cgroup_root.clone());
    let mut runtimes = lookups(
        live.map(|l| l.sockets.clone()),
        cgroup_root.clone(),
        plan.threads,
    );
    let Plan {
        threads,
        events,
        filter,
        signatures,
        selection,
        count,
        outputs,
        netns_cookie,
        ..
    } = plan;
    let encoders = Encoders::new(&outputs.formats, outputs.keyed);
    let host_name = host_name();
    let kernel_flows = source.kernel_flows();
    // Builds a pipeline on the thread it runs on: the events the plan selects, -w's file
    // (one for every thread) and the runtimes' lookups of that thread.
    let builder = |runtimes: Option<Lookups>| -> Builder {
        let (selection, filter, encoders) = (selection.clone(), filter.clone(), encoders.like());
        let (name, cgroup_root) = (host_name.clone(), cgroup_root.clone());
        let packets = sinks.packet_writer.clone();
        let kernel_flows = kernel_flows.clone();
        Box::new(move |output| {
            let host = Host {
                name,
                netns_cookie,
                runtimes,
                cgroup_root,
            };
            let output = output.map(|queues| Box::new(queues) as Box<dyn EventOutput>);
            let mut pipeline = Pipeline::new(events, selection, filter, encoders, output, host);
            if let Some(kernel_flows) = kernel_flows {
                pipeline = pipeline.with_kernel_flow_counts(kernel_flows);
            }
            match packets {
                Some(packets) => pipeline.with_tap(Box::new(packets)),
                None => pipeline,
            }
        })
    };
    let mut more_threads = Vec::new();
    let pipelines = if threads > 1 && parts == 1 {
        let builders = runtimes.into_iter().map(builder).collect();
        match Pipelines::sharded(builders, sinks.outputs, count) {
            Ok(pipelines) => pipelines,
            Err(e) => {
                note!("netcore: --threads: starting the decoding threads: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        more_threads = runtimes.drain(1..).map(builder).collect();
        // Signatures and evidence keep the run on this one pipeline (the plan says so).
        let first = builder(runtimes.pop().flatten());
        let mut pipeline = first(Some(sinks.outputs.queues()));
        if let Some((engine, findings_only)) = signatures {
            pipeline = pipeline.with_signatures(Some(engine), findings_only);
        }
        if let Some(evidence) = sinks.evidence {
            pipeline = pipeline.with_tap(Box::new(evidence) as Box<dyn PacketTap>);
        }
        Pipelines::one(pipeline, sinks.outputs, count)
    };
    let result = match source {
        Source::File(path) => return file::run(&path, pipelines),
        Source::Host(capture, attached) => live::run(&capture, attached, pipelines, more_threads),
        Source::Xdp(capture, attached) => {
            live::run_xdp(&capture, attached, pipelines, more_threads)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where a run's frames come from, opened before any thread starts.
enum Source {
    /// `-r`: the capture file.
    File(PathBuf),
    /// Host mode, attached.
    Host(live::HostCapture, live::HostAttached),
    /// AF_XDP mode, attached.
    Xdp(live::XdpCapture, live::XdpAttached),
}

impl Source {
    /// Attaches a live mode's programs and opens its sockets, for `parts` decoding
    /// threads that read a part of the source each; a file is opened when read.
    fn open(plan: &Plan, parts: usize) -> anyhow::Result<Source> {
        let flows = plan.events.any_flow();
        Ok(match &plan.mode {
            Mode::File(path) => Source::File(path.clone()),
            Mode::Host(live) => {
                let capture = live::HostCapture {
                    config: CaptureConfig {
                        // Host mode sees no ICMP error arrive: the sockets report failures.
                        report_socket_errors: plan.events.contains_flow(FlowKind::ConnectFailure),
                        kernel_flows: live.kernel_flows,
                        sheddable: live.cpu_budget.is_some(),
                        ..capture_config(live, parts as u32, flows)
                    },
                    cgroup: live.cgroup.clone(),
                    stats_every: live.stats_every,
                    metrics: live.metrics,
                    // Flow accounting: the flow tables read the kernel's counters.
                    kernel_flows: (live.kernel_flows != KernelFlowCounting::Never)
                        .then(|| Arc::new(live::KernelFlows::default())),
                    cpu_budget: live.cpu_budget,
                };
                let attached = capture.attach()?;
                Source::Host(capture, attached)
            }
            Mode::Xdp(live, xdp) => {
                let capture = live::XdpCapture {
                    config: capture_config(live, 1, flows),
                    interface: xdp.interface.clone(),
                    ifindex: xdp.ifindex,
                    queues: xdp.queues.clone(),
                    owner_handoff: xdp.owner_handoff,
                    cgroup: live.cgroup.clone(),
                    stats_every: live.stats_every,
                    discard: xdp.discard,
                    metrics: live.metrics,
                };
                let attached = capture.attach(parts)?;
                Source::Xdp(capture, attached)
            }
        })
    }

    /// The capabilities the run keeps once this is open.
    fn keeps(&self) -> privileges::Keep {
        match self {
            Source::File(_) => privileges::Keep::File,
            Source::Host(..) | Source::Xdp(..) => privileges::Keep::Live,
        }
    }

    /// Host mode's flow counters in the kernel, when it keeps them.
    fn kernel_flows(&self) -> Option<Arc<live::KernelFlows>> {
        match self {
            Source::Host(capture, _) => capture.kernel_flows.clone(),
            _ => None,
        }
    }
}

/// The sinks a run starts before its pipelines: the event outputs and the packet taps.
struct Sinks {
    outputs: Outputs,
    /// `-w`: one file for every decoding thread.
    packet_writer: Option<SharedPacketWriter>,
    /// `--evidence`.
    evidence: Option<Evidence>,
}

impl Sinks {
    /// Starts the sinks `plan` names; says which flag's sink could not start, and why.
    fn start(plan: &Plan) -> Result<Sinks, String> {
        let packet_writer = match &plan.write {
            None => None,
            Some(write) => Some(SharedPacketWriter::new(
                PacketWriter::create(&write.path, write.snaplen, write.rotation)
                    .map_err(|e| format!("-w {}: {e}", write.path.display()))?,
            )),
        };
        let evidence = match &plan.evidence {
            None => None,
            Some(config) => Some(
                Evidence::new(config.clone())
                    .map_err(|e| format!("--evidence {}: {e}", config.dir.display()))?,
            ),
        };
        let outputs = &plan.outputs;
        let outputs = Outputs::start(&outputs.specs, outputs.policy, outputs.queue_batches)
            .map_err(|e| e.to_string())?;
        Ok(Sinks {
            outputs,
            packet_writer,
            evidence,
        })
    }
}

/// The capture programs' settings for `live`, with `rings` ring buffers; `flows`: each
/// ring gets every DNS answer's names.
fn capture_config(live: &crate::plan::Live, rings: u32, flows: bool) -> CaptureConfig {
    CaptureConfig {
        snaplen: live.snaplen,
        ring_bytes: live.ring_bytes,
        rings,
        kernel_filter: live.kernel_filter,
        share_dns_answers: flows,
        report_socket_errors: false,
        kernel_flows: KernelFlowCounting::Never,
        sheddable: false,
    }
}

/// The runtimes' lookups of a live run's `pipelines`, one end each (no `sockets`: file
/// mode, none); says why when they cannot start.
fn lookups(
    sockets: Option<Sockets>,
    cgroup_root: Option<PathBuf>,
    pipelines: usize,
) -> Vec<Option<Lookups>> {
    let started = sockets.map(|sockets| Lookups::start(sockets, cgroup_root, pipelines));
    let mut ends: Vec<Option<Lookups>> = match started.transpose() {
        Ok(ends) => ends.into_iter().flatten().map(Some).collect(),
        Err(e) => {
            note!("netcore: warning: containers will carry their ids only: {e}");
            Vec::new()
        }
    };
    ends.resize_with(pipelines, || None);
    ends
}

/// This host's name, as Tracee reports it in `hostName`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
