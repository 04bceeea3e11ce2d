//! `netcore`: prints one Tracee-compatible event per decoded layer of every packet.
//!
//! The stages, in the order data flows: [`source`] → [`pipeline`] (decode, [`state`],
//! filter) → [`encode`] → [`sink`]. [`kernel`] loads the programs the live sources read;
//! [`run`] drives one mode end to end.

/// Writes a line to stderr, ignoring failure: a closed stderr (`netcore 2>&1 | head`) must
/// not end the run or panic, as `eprintln!` would.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod encode;
mod kernel;
mod pipeline;
mod run;
mod signatures;
mod sink;
mod source;
mod state;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use netcore_core::abi::rings::MAX_RINGS;
use netcore_core::abi::{HEADERS_LEN, KernelFilter, OwnerHandoff};
use netcore_core::filter::Filter;
use netcore_core::{EventSet, LinkType};

use cli::Cli;
use encode::{Encoders, Format};
use kernel::{loader, preflight};
use pipeline::{
    Builder, Expression, FlowOptions, Limits, Pipeline, Pipelines, Selection, Sharded, Tunnels,
};
use sink::capture::{PacketWriter, Rotation, SharedPacketWriter};
use sink::evidence::{Evidence, EvidenceConfig};
use sink::{OutputSpec, Outputs, Policy, Target};
use state::runtimes::{Lookups, Sockets};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!(
            "netcore {} (commit {})\nschemas: {}\n{}",
            env!("CARGO_PKG_VERSION"),
            env!("NETCORE_COMMIT"),
            netcore_core::json::SCHEMAS.map(|s| s.name).join(", "),
            preflight::kernel_features()
        );
        return ExitCode::SUCCESS;
    }
    if let Some(what) = cli.generate {
        return match cli::generate(what, &mut io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                note!("netcore: --generate: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let signature_config = signatures::Config {
        e2e_dns_domain: cli.e2e_dns_domain.clone(),
        ioc_file: cli.ioc_file.clone(),
    };
    if cli.list_signatures {
        print!("{}", signatures::Engine::list(&signature_config));
        return ExitCode::SUCCESS;
    }
    let engine = match cli.signatures.is_empty() {
        true => None,
        false => match signatures::Engine::load(&cli.signatures, &signature_config, cli.schema) {
            Ok(engine) => Some(engine),
            Err(e) => {
                note!("netcore: --signatures: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let signature_events = engine.as_ref().map_or(EventSet::NONE, |e| e.selected());
    let json = Format::Json(
        cli.schema,
        cli.community_id.then_some(cli.community_id_seed),
    );
    let format = if cli.json {
        json
    } else if cli.text_events {
        Format::EventLines
    } else {
        Format::PacketLines
    };
    let filter = match Filter::parse(&cli.filters) {
        Ok(filter) => filter,
        Err(e) => {
            note!("netcore: --filter {e}");
            return ExitCode::from(2);
        }
    };
    // Without --events: the packet events, and the flow events the filters name. With
    // it, signatures' event names select their findings.
    let finding_names = engine.as_ref().map_or(Vec::new(), |e| e.event_names());
    let (events, findings) = match cli::parse_events(&cli.events, &finding_names) {
        Ok(_) if cli.events.is_empty() => (EventSet::DEFAULT.union(filter.named_events()), vec![]),
        Ok(selection) => selection,
        Err(e) => {
            note!("netcore: --events: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = engine.map(|e| e.printing(findings));
    let host_mode = cli.read.is_none() && cli.xdp.is_none();
    let tunnels = cli.tunnel.unwrap_or(if host_mode {
        Tunnels::Outer
    } else {
        Tunnels::Both
    });
    // The kernel keeps what the printed events and the signatures need.
    let mut kernel_filter =
        filter.kernel_filter(events.union(signature_events).intersect(filter.events()));
    if tunnels != Tunnels::Outer {
        // Selected traffic may hide inside UDP or GRE: the kernel cannot tell by class or port.
        kernel_filter.protocols = netcore_core::abi::l4::ALL;
        kernel_filter.port_count = 0;
    }
    let netns_cookie = kernel::seed::netns_cookie().unwrap_or(0);
    let interface = match cli.interface.as_deref() {
        None | Some("any") => None,
        Some(name) => match preflight::interface_index(name) {
            Some(ifindex) => Some(source::Interface {
                ifindex,
                netns_cookie,
            }),
            None => {
                note!("netcore: -i {name}: no such network interface here (see `ip link`)");
                return ExitCode::from(2);
            }
        },
    };
    let text = cli.bpf.clone().unwrap_or_else(|| cli.expression.join(" "));
    let expression = match text.trim() {
        "" => None,
        text => {
            // The link type the source hands out first: raw IP from the ring buffer,
            // Ethernet from AF_XDP and (most) files.
            let first = match (&cli.read, &cli.xdp) {
                (None, None) => LinkType::Raw,
                _ => LinkType::Ethernet,
            };
            match Expression::compile(text, first) {
                Ok(expression) => Some(expression),
                Err(e) => {
                    note!("netcore: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    // No selected event, signature, flow, tunnel, -w file, evidence or pcap expression
    // reads past the headers: the kernel copies only those.
    let headers_only = !events.any_dns()
        && events.intersect(EventSet::HTTP) == EventSet::NONE
        && !events.any_flow()
        && engine.is_none()
        && tunnels == Tunnels::Outer
        && cli.write.is_none()
        && expression.is_none();
    let snaplen = match headers_only {
        true => cli.snaplen.min(HEADERS_LEN as u32),
        false => cli.snaplen,
    };
    let mut selection = Selection {
        limits: Limits {
            direction: cli.direction.and_then(cli::Directions::only),
            count: cli.count.map(pipeline::PacketCount::new),
            interface,
            tunnels,
        },
        expression,
        flows: FlowOptions {
            max_flows: cli.max_flows as usize,
            community_id_seed: cli.community_id_seed,
            report_every_ns: cli.flow_report.map(|s| s * 1_000_000_000),
        },
    };
    // Live modes: what capture needs is checked before anything starts.
    let source = match &cli.read {
        Some(path) => Source::File(path.clone()),
        None => match live_preflight(&cli) {
            Ok(target) => Source::Live(target),
            Err(code) => return code,
        },
    };
    // Live modes describe containers through their runtimes' APIs, on a thread of its own.
    let cgroup_root = match cli.read {
        Some(_) => None,
        None => preflight::cgroup2_root(),
    };
    let sockets = cli.read.is_none().then(|| Sockets {
        docker: cli.docker_socket.clone(),
        podman: cli.podman_socket.clone(),
        containerd: cli.containerd_socket.clone(),
    });
    let packet_writer = match &cli.write {
        None => None,
        Some(path) if path == std::path::Path::new("-") && cli.file_size.is_some() => {
            note!("netcore: -C: -w - writes to standard output, which cannot be split into files");
            return ExitCode::from(2);
        }
        Some(path) => {
            let snaplen = if cli.read.is_some() { 0 } else { cli.snaplen };
            let rotation = Rotation {
                max_bytes: cli.file_size.unwrap_or(0) * 1_000_000,
                files: cli.file_count,
            };
            match PacketWriter::create(path, snaplen, rotation) {
                Ok(writer) => Some(SharedPacketWriter::new(writer)),
                Err(e) => {
                    note!("netcore: -w {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let evidence = match &cli.evidence {
        None => None,
        Some(dir) => {
            let config = EvidenceConfig {
                dir: dir.clone(),
                follow_ns: cli.evidence_seconds.saturating_mul(1_000_000_000),
                per_flow: cli.evidence_packets as usize,
                total_bytes: (cli.evidence_memory as usize) << 20,
            };
            match Evidence::new(config) {
                Ok(evidence) => Some(evidence),
                Err(e) => {
                    note!("netcore: --evidence {}: {e}", dir.display());
                    return ExitCode::from(2);
                }
            }
        }
    };
    let (encoders, outputs) = match start_outputs(&cli, format, json) {
        Ok(started) => started,
        Err(e) => {
            note!("netcore: {e}");
            return ExitCode::from(2);
        }
    };
    // Host mode spreads flows over one ring buffer per decoding thread in the kernel, and
    // AF_XDP with several rx queues reads a group of queues per thread; otherwise (file
    // mode, one queue) every frame goes to each thread, which keeps its share.
    let split = match &source {
        Source::Live(LiveTarget { xdp: None, .. }) => Some((
            MAX_RINGS as usize,
            "host mode has one ring buffer per thread",
        )),
        Source::Live(LiveTarget {
            xdp: Some((_, queues, _)),
            ..
        }) if queues.len() > 1 => Some((queues.len(), "AF_XDP reads a rx queue per thread")),
        _ => None,
    };
    let host_mode = matches!(source, Source::Live(LiveTarget { xdp: None, .. }));
    let threads = decoding_threads(&cli, &events, engine.is_some(), split, host_mode);
    // Each thread tracks its share of the flows: --max-flows bounds them all.
    selection.flows.max_flows = selection.flows.max_flows.div_ceil(threads);
    let host_name = host_name();
    let mut runtimes = lookups(sockets, cgroup_root.clone(), threads);
    // Builds a pipeline without outputs (its caller takes the batches) on its own thread.
    let builder = |runtimes| -> Builder {
        let (selection, filter, encoders) = (selection.clone(), filter.clone(), encoders.like());
        let (name, cgroup_root) = (host_name.clone(), cgroup_root.clone());
        // -w: one file for every thread (only a split source gets here with it).
        let packets = packet_writer.clone();
        Box::new(move || {
            let host = pipeline::Host {
                name,
                netns_cookie,
                runtimes,
                cgroup_root,
            };
            let pipeline = Pipeline::new(events, selection, filter, encoders, None, host);
            match packets {
                Some(packets) => pipeline.with_tap(Box::new(packets)),
                None => pipeline,
            }
        })
    };
    let mut more_threads = Vec::new();
    let pipelines = if threads > 1 && split.is_none() {
        let builders = runtimes.into_iter().map(builder).collect();
        match Sharded::start(builders, outputs) {
            Ok(sharded) => Pipelines::Sharded(Box::new(sharded)),
            Err(e) => {
                note!("netcore: --threads: starting the decoding threads: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        more_threads = runtimes.drain(1..).map(builder).collect();
        let host = pipeline::Host {
            name: host_name.clone(),
            netns_cookie,
            runtimes: runtimes.pop().flatten(),
            cgroup_root,
        };
        let mut pipeline = Pipeline::new(events, selection, filter, encoders, Some(outputs), host)
            .with_signatures(engine, cli.findings_only);
        if let Some(packets) = packet_writer {
            pipeline = pipeline.with_tap(Box::new(packets));
        }
        if let Some(evidence) = evidence {
            pipeline = pipeline.with_tap(Box::new(evidence));
        }
        Pipelines::One(Box::new(pipeline))
    };
    match source {
        Source::File(path) => run::file::run(&path, pipelines),
        Source::Live(target) => capture_live(
            &cli,
            target,
            kernel_filter,
            snaplen,
            events.any_flow(),
            pipelines,
            more_threads,
        ),
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

/// How many threads decode: `--threads`, else the CPUs available; at most as many as the
/// parts a split source has (`split`: their count, and why); one when a feature needs
/// every flow in one place. Each limit is said when more threads were asked for. Flow
/// records name a flow's ends from the DNS answers of other flows: in host mode the
/// capture programs copy each answer to every thread's ring (`host_mode`); elsewhere flow
/// events need one thread. `-w` takes every thread's packets when the source is split
/// (each flow's in order); otherwise (files, one AF_XDP queue) the file must hold the
/// packets in the order they came.
fn decoding_threads(
    cli: &Cli,
    events: &EventSet,
    signatures: bool,
    split: Option<(usize, &str)>,
    host_mode: bool,
) -> usize {
    let asked = cli.threads.map(|n| n as usize);
    let alone = [
        (signatures, "--signatures must see every flow"),
        (
            events.any_flow() && !host_mode,
            "flow events outside host mode must see every flow",
        ),
        (
            cli.write.is_some() && split.is_none(),
            "-w writes the packets in the order they came",
        ),
        (cli.evidence.is_some(), "--evidence must see every flow"),
        (
            cli.count.is_some() && split.is_none(),
            "-c counts the packets in the order they came",
        ),
    ]
    .into_iter()
    .find_map(|(used, what)| used.then_some(what));
    match (alone, split) {
        (Some(what), _) => {
            if asked.is_some_and(|n| n > 1) {
                note!("netcore: --threads: decoding on one thread, since {what}");
            }
            1
        }
        (None, split) => {
            let threads = asked.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            match split {
                Some((most, why)) if threads > most => {
                    if asked.is_some() {
                        note!("netcore: --threads: decoding on {most} threads: {why}");
                    }
                    most
                }
                _ => threads,
            }
        }
    }
}

/// The encoders and the outputs `--output` names (standard output when none is named,
/// nothing with `-w -`, which puts the packets there), their queues started.
fn start_outputs(cli: &Cli, format: Format, json: Format) -> Result<(Encoders, Outputs), String> {
    // `-w -` puts the packets on standard output: the events go nowhere then.
    let packets_to_stdout = cli.write.as_deref() == Some(std::path::Path::new("-"));
    let stdout = OutputSpec {
        name: "stdout".into(),
        target: Target::Stdout,
        format: None,
    };
    let specs = match (cli.output.is_empty(), packets_to_stdout) {
        (true, true) => vec![],
        (true, false) => vec![stdout],
        (false, _) => cli.output.clone(),
    };
    if packets_to_stdout && specs.iter().any(|s| s.target == Target::Stdout) {
        return Err("-w - and --output stdout both write to standard output".into());
    }
    let (formats, specs) = sink::formats(&specs, format, json);
    // A file is read at its own pace: nothing is dropped unless asked for.
    let policy = cli.output_policy.unwrap_or(match cli.read {
        Some(_) => Policy::Block,
        None => Policy::Drop,
    });
    let outputs =
        Outputs::start(&specs, policy, cli.output_queue as usize).map_err(|e| e.to_string())?;
    let keyed = specs
        .iter()
        .any(|(spec, _)| matches!(spec.target, Target::Kafka { .. }));
    Ok((Encoders::new(&formats, keyed), outputs))
}

/// What a run reads: a capture file (`-r`), or live traffic at a checked target.
enum Source {
    File(PathBuf),
    Live(LiveTarget),
}

/// Where live capture attaches: the cgroup v2 directory, and with `--xdp` the
/// interface's index and the rx queues to read.
struct LiveTarget {
    cgroup: PathBuf,
    /// AF_XDP: the interface's index, its rx queues to read and how owners are handed over.
    xdp: Option<(u32, Vec<u32>, OwnerHandoff)>,
}

/// Checks what live capture needs (privileges, cgroup v2, the `--xdp` interface); says
/// what is missing and gives the exit code when something is.
fn live_preflight(cli: &Cli) -> Result<LiveTarget, ExitCode> {
    let missing = |missing: preflight::Missing| {
        note!("netcore: {}", missing.to_string().trim_end());
        ExitCode::from(2)
    };
    let cgroup = preflight::check_host_capture(cli.cgroup.as_deref()).map_err(missing)?;
    let xdp = match cli.xdp.as_deref() {
        None => None,
        Some(interface) => {
            let (ifindex, queues) =
                preflight::check_xdp_interface(interface, cli.queue, cli.force).map_err(missing)?;
            let (handoff, why) =
                preflight::xdp_owner_handoff(cli.xdp_owner.map(OwnerHandoff::from))
                    .map_err(missing)?;
            if let Some(why) = why {
                note!("netcore: {why}; each frame's owner is prepended to it instead");
            }
            Some((ifindex, queues, handoff))
        }
    };
    Ok(LiveTarget { cgroup, xdp })
}

/// Live capture (host mode, or AF_XDP with --xdp) on `target` until SIGINT/SIGTERM.
/// `more_threads` build the pipelines of the source's other parts (host mode's ring
/// buffers, AF_XDP's queue groups) besides `pipelines`' own; with `flows` (a flow event
/// selected) each ring gets every DNS answer's names.
fn capture_live(
    cli: &Cli,
    target: LiveTarget,
    kernel_filter: KernelFilter,
    snaplen: u32,
    flows: bool,
    pipelines: Pipelines,
    more_threads: Vec<Builder>,
) -> ExitCode {
    let config = loader::CaptureConfig {
        snaplen,
        ring_bytes: cli.ring_size << 20,
        // Host mode: a ring buffer per decoding thread.
        rings: match target.xdp {
            None => 1 + more_threads.len() as u32,
            Some(_) => 1,
        },
        kernel_filter,
        share_dns_answers: flows,
    };
    let stats_every = cli.stats.map(std::time::Duration::from_secs);
    let result = match (&cli.xdp, target.xdp) {
        (Some(interface), Some((ifindex, queues, owner_handoff))) => {
            let capture = run::live::XdpCapture {
                interface: interface.clone(),
                ifindex,
                queues,
                owner_handoff,
                cgroup: target.cgroup,
                config,
                stats_every,
                discard: cli.xdp_discard,
                metrics: cli.metrics,
            };
            run::live::run_xdp(&capture, pipelines, more_threads)
        }
        _ => {
            let capture = run::live::HostCapture {
                cgroup: target.cgroup,
                config,
                stats_every,
                metrics: cli.metrics,
            };
            run::live::run(&capture, pipelines, more_threads)
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

/// This host's name, as Tracee reports it in `hostName`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
