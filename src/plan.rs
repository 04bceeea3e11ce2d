//! The plan of a run: the flags turned into one value, decided and validated here and
//! nowhere else — the mode (file, host, AF_XDP) and what live capture needs, the events,
//! filters and signatures, the decoding threads and why, the snaplen and the kernel
//! filter, the formats and outputs, the packet taps. Every refusal of a bad value or a bad
//! combination of flags comes from [`Plan::from_cli`], as one message (clap refuses what
//! does not parse; a sink that cannot start, such as a `-w` file that cannot be created,
//! is named by `run::start`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use netcore_core::abi::rings::MAX_RINGS;
use netcore_core::abi::{HEADERS_LEN, KernelFilter, OwnerHandoff};
use netcore_core::filter::Filter;
use netcore_core::{EventSet, LinkType};

use crate::cli::{self, Cli};
use crate::encode::Format;
use crate::kernel::loader::KernelFlowCounting;
use crate::kernel::{preflight, seed};
use crate::pipeline::{Expression, FlowOptions, Limits, PacketCount, Selection, Tunnels};
use crate::signatures::Engine;
use crate::sink::capture::Rotation;
use crate::sink::evidence::EvidenceConfig;
use crate::sink::{self as sinks, OutputSpec, Policy, Target};
use crate::source::Interface;
use crate::state::runtimes::Sockets;

/// What a run reads, decided once.
pub enum Mode {
    /// A capture file (`-r`; `-` is standard input).
    File(PathBuf),
    /// Host mode: every local socket's packets, from the cgroup_skb programs.
    Host(Live),
    /// AF_XDP on a capture interface (`--xdp`).
    Xdp(Live, Xdp),
}

impl Mode {
    /// When the source itself is split by flow, each part read by a decoding thread of its
    /// own: the most parts there are, and why there are no more threads than that. `None`
    /// when one thread reads the source and shares its frames out (files, one rx queue).
    fn split(&self) -> Option<(usize, &'static str)> {
        match self {
            Mode::Host(_) => Some((
                MAX_RINGS as usize,
                "host mode has one ring buffer per thread",
            )),
            Mode::Xdp(_, xdp) if xdp.queues.len() > 1 => {
                Some((xdp.queues.len(), "AF_XDP reads a rx queue per thread"))
            }
            _ => None,
        }
    }
}

/// The mode the flags choose, read from them once and first (before anything is
/// checked): everything else the plan decides by mode asks this.
#[derive(Clone, Copy)]
enum Chosen<'c> {
    /// `-r FILE`.
    File(&'c Path),
    /// Neither `-r` nor `--xdp`.
    Host,
    /// `--xdp IFACE`.
    Xdp(&'c str),
}

impl<'c> Chosen<'c> {
    /// The mode `cli` chooses (clap refuses `-r` with `--xdp`).
    fn of(cli: &'c Cli) -> Self {
        match (&cli.read, &cli.xdp) {
            (Some(path), _) => Chosen::File(path),
            (None, Some(interface)) => Chosen::Xdp(interface),
            (None, None) => Chosen::Host,
        }
    }
}

/// What every live mode needs, checked before anything starts.
pub struct Live {
    /// The cgroup v2 directory whose sockets are captured (host mode) or attribute
    /// frames (AF_XDP).
    pub cgroup: PathBuf,
    /// The cgroup v2 mount, where containers are found.
    pub cgroup_root: Option<PathBuf>,
    /// The container runtimes' API sockets.
    pub sockets: Sockets,
    /// Bytes of each packet the capture programs copy, from its IP header on.
    pub snaplen: u32,
    /// Bytes of each ring buffer.
    pub ring_bytes: u32,
    /// What the capture programs drop before the ring buffer.
    pub kernel_filter: KernelFilter,
    /// Host mode: when the capture programs count flows themselves, sending up only the
    /// packets the selected events read, and at most how many.
    pub kernel_flows: KernelFlowCounting,
    /// Host mode, `--cpu-budget`: the fraction of one core netcore may use before it sheds
    /// packet events.
    pub cpu_budget: Option<f64>,
    /// `--stats`: a statistics line this often.
    pub stats_every: Option<Duration>,
    /// `--metrics`: where Prometheus scrapes.
    pub metrics: Option<std::net::SocketAddr>,
}

/// AF_XDP's interface, queues and owner handoff.
pub struct Xdp {
    /// The capture interface's name.
    pub interface: String,
    /// Its index.
    pub ifindex: u32,
    /// The rx queues to read.
    pub queues: Vec<u32>,
    /// How the XDP program hands each frame's owner over.
    pub owner_handoff: OwnerHandoff,
    /// Count frames without decoding them (the benchmark's raw loop).
    pub discard: bool,
}

/// `-w`: where the packets that gave events go.
pub struct Write {
    /// The file (`-`: standard output).
    pub path: PathBuf,
    /// The snaplen the file declares (0 for a file read: its own frames' lengths).
    pub snaplen: u32,
    /// `-C` and `-W`.
    pub rotation: Rotation,
}

/// The event outputs: each spec with its format's index, the policy and queue length.
pub struct Outputs {
    /// `--output`s (standard output when none is named, none with `-w -`).
    pub specs: Vec<(OutputSpec, usize)>,
    /// `--output-policy`, or the mode's default.
    pub policy: Policy,
    /// `--output-queue`.
    pub queue_batches: usize,
    /// The formats the specs use, in the encoders' order.
    pub formats: Vec<Format>,
    /// Whether an output partitions by flow (Kafka's message keys).
    pub keyed: bool,
}

/// A run, decided.
pub struct Plan {
    /// What is read.
    pub mode: Mode,
    /// How many threads decode.
    pub threads: usize,
    /// The events printed (the signatures' are decided too).
    pub events: EventSet,
    /// `--filter`.
    pub filter: Filter,
    /// `--signatures`, and `--findings-only`.
    pub signatures: Option<(Engine, bool)>,
    /// The limits, the pcap expression and the flow table's settings (per thread).
    pub selection: Selection,
    /// `-c`, shared by every thread.
    pub count: Option<Arc<PacketCount>>,
    /// Where the events go.
    pub outputs: Outputs,
    /// `-w`.
    pub write: Option<Write>,
    /// `--evidence`.
    pub evidence: Option<EvidenceConfig>,
    /// The cookie of netcore's network namespace (0 when unknown).
    pub netns_cookie: u64,
    /// Whether the seccomp filter is installed after start-up (not `--no-seccomp`).
    pub seccomp: bool,
}

impl Plan {
    /// Decides the run `cli` asks for, or says what is wrong with it.
    pub fn from_cli(cli: Cli) -> Result<Plan, String> {
        let engine = match cli.signatures.is_empty() {
            true => None,
            false => Some(
                Engine::load(&cli.signatures, &cli.signature_config(), cli.schema)
                    .map_err(|e| format!("--signatures: {e}"))?,
            ),
        };
        let filter = Filter::parse(&cli.filters).map_err(|e| format!("--filter {e}"))?;
        // Without --events: the packet events, and the flow events the filters name. With
        // it, signatures' event names select their findings.
        let finding_names = engine.as_ref().map_or(Vec::new(), |e| e.event_names());
        let (events, findings) = match cli::parse_events(&cli.events, &finding_names) {
            Ok(_) if cli.events.is_empty() => {
                (EventSet::DEFAULT.union(filter.named_events()), vec![])
            }
            Ok(selection) => selection,
            Err(e) => return Err(format!("--events: {e}")),
        };
        let engine = engine.map(|e| e.printing(findings));
        let signature_events = engine.as_ref().map_or(EventSet::NONE, |e| e.selected());
        let chosen = Chosen::of(&cli);
        let tunnels = cli.tunnel.unwrap_or(match chosen {
            Chosen::Host => Tunnels::Outer,
            Chosen::File(_) | Chosen::Xdp(_) => Tunnels::Both,
        });
        let netns_cookie = seed::netns_cookie().unwrap_or(0);
        let interface = match cli.interface.as_deref() {
            None | Some("any") => None,
            Some(name) => match preflight::interface_index(name) {
                Some(ifindex) => Some(Interface {
                    ifindex,
                    netns_cookie,
                }),
                None => {
                    return Err(format!(
                        "-i {name}: no such network interface here (see `ip link`)"
                    ));
                }
            },
        };
        let expression = expression(&cli, chosen)?;
        let write = write(&cli, chosen)?;
        let outputs = outputs(&cli, chosen)?;
        let signatures_used = engine.is_some();
        let kept = Kept {
            events,
            signatures: signature_events,
            filter: &filter,
            tunnels,
            expression: expression.is_some(),
        };
        let mode = mode(&cli, chosen, kept)?;
        let threads = decoding_threads(&cli, &events, signatures_used, &mode);
        let evidence = cli.evidence.clone().map(|dir| EvidenceConfig {
            dir,
            follow_ns: cli.evidence_seconds.saturating_mul(1_000_000_000),
            per_flow: cli.evidence_packets as usize,
            total_bytes: (cli.evidence_memory as usize) << 20,
        });
        let count = cli.count.map(PacketCount::new);
        Ok(Plan {
            mode,
            threads,
            events,
            filter,
            signatures: engine.map(|e| (e, cli.findings_only)),
            selection: Selection {
                limits: Limits {
                    direction: cli.direction.and_then(cli::Directions::only),
                    count: count.clone(),
                    interface,
                    tunnels,
                },
                expression,
                flows: FlowOptions {
                    // Each thread tracks its share of the flows: --max-flows bounds them all.
                    max_flows: (cli.max_flows as usize).div_ceil(threads),
                    community_id_seed: cli.community_id_seed,
                    report_every_ns: cli.flow_report.map(|s| s * 1_000_000_000),
                    dns_timeout_ns: cli.dns_timeout,
                },
            },
            count,
            outputs,
            write,
            evidence,
            netns_cookie,
            seccomp: !cli.no_seccomp,
        })
    }

    /// Whether the run captures live.
    pub fn live(&self) -> Option<&Live> {
        match &self.mode {
            Mode::File(_) => None,
            Mode::Host(live) | Mode::Xdp(live, _) => Some(live),
        }
    }

    /// How many parts the source itself is split into, each read by a decoding thread of
    /// its own (host mode's rings, AF_XDP's queue groups); 1 when one thread reads the
    /// source and shares the frames out.
    pub fn source_parts(&self) -> usize {
        match self.mode.split() {
            Some(_) => self.threads,
            None => 1,
        }
    }
}

/// The pcap filter expression (`--bpf`, or the words after the options), compiled for
/// the link type the source hands out first: raw IP from the ring buffer, Ethernet from
/// AF_XDP and (most) files.
fn expression(cli: &Cli, chosen: Chosen<'_>) -> Result<Option<Expression>, String> {
    let text = cli.bpf.clone().unwrap_or_else(|| cli.expression.join(" "));
    match text.trim() {
        "" => Ok(None),
        text => {
            let first = match chosen {
                Chosen::Host => LinkType::Raw,
                Chosen::File(_) | Chosen::Xdp(_) => LinkType::Ethernet,
            };
            Expression::compile(text, first)
                .map(Some)
                .map_err(|e| e.to_string())
        }
    }
}

/// `-w`, `-C` and `-W`.
fn write(cli: &Cli, chosen: Chosen<'_>) -> Result<Option<Write>, String> {
    let Some(path) = &cli.write else {
        return Ok(None);
    };
    if path == Path::new("-") && cli.file_size.is_some() {
        return Err("-C: -w - writes to standard output, which cannot be split into files".into());
    }
    Ok(Some(Write {
        path: path.clone(),
        snaplen: match chosen {
            Chosen::File(_) => 0,
            Chosen::Host | Chosen::Xdp(_) => cli.snaplen,
        },
        rotation: Rotation {
            max_bytes: cli.file_size.unwrap_or(0) * 1_000_000,
            files: cli.file_count,
        },
    }))
}

/// The outputs `--output` names (standard output when none is named, nothing with `-w -`,
/// which puts the packets there) and their formats.
fn outputs(cli: &Cli, chosen: Chosen<'_>) -> Result<Outputs, String> {
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
    let packets_to_stdout = cli.write.as_deref() == Some(Path::new("-"));
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
    let (formats, specs) = sinks::formats(&specs, format, json);
    let keyed = specs
        .iter()
        .any(|(spec, _)| matches!(spec.target, Target::Kafka { .. }));
    Ok(Outputs {
        specs,
        // A file is read at its own pace: nothing is dropped unless asked for.
        policy: cli.output_policy.unwrap_or(match chosen {
            Chosen::File(_) => Policy::Block,
            Chosen::Host | Chosen::Xdp(_) => Policy::Drop,
        }),
        queue_batches: cli.output_queue as usize,
        formats,
        keyed,
    })
}

/// What the kernel must keep of each packet for a live run: the events printed and
/// decided for the signatures, the filters, tunnels and the pcap expression.
struct Kept<'f> {
    events: EventSet,
    /// The signatures' events (none without signatures).
    signatures: EventSet,
    filter: &'f Filter,
    tunnels: Tunnels,
    /// Whether a pcap expression reads the packets.
    expression: bool,
}

/// The mode, and for the live ones what capture needs, checked (privileges, cgroup v2,
/// the `--xdp` interface): the kernel keeps what `kept` needs, and copies only the
/// headers when nothing reads past them.
fn mode(cli: &Cli, chosen: Chosen<'_>, kept: Kept<'_>) -> Result<Mode, String> {
    let Kept {
        events,
        signatures,
        filter,
        tunnels,
        expression,
    } = kept;
    if cli.cpu_budget.is_some() && !matches!(chosen, Chosen::Host) {
        return Err(
            "--cpu-budget: host mode only (a file is read at its own pace; AF_XDP has no \
             shedding yet)"
                .into(),
        );
    }
    if let Chosen::File(path) = chosen {
        return Ok(Mode::File(path.to_owned()));
    }
    let missing = |missing: preflight::Missing| missing.to_string().trim_end().to_owned();
    let cgroup = preflight::check_host_capture(cli.cgroup.as_deref()).map_err(missing)?;
    let mut kernel_filter =
        filter.kernel_filter(events.union(signatures).intersect(filter.events()));
    if tunnels != Tunnels::Outer {
        // Selected traffic may hide inside UDP or GRE: the kernel cannot tell by class or port.
        kernel_filter.protocols = netcore_core::abi::l4::ALL;
        kernel_filter.port_count = 0;
    }
    // No selected event, signature, flow, tunnel, -w file, evidence or pcap expression
    // reads past the headers: the kernel copies only those.
    let headers_only = !events.any_dns()
        && events.intersect(EventSet::HTTP) == EventSet::NONE
        && !events.any_flow()
        && cli.signatures.is_empty()
        && tunnels == Tunnels::Outer
        && cli.write.is_none()
        && !expression;
    // The kernel may count flows (and shed packet events) when nothing else reads every
    // packet and no interface or direction is left out after capture; it counts them
    // always when only flow and DNS events are selected, or while shedding.
    let stays_whole = match () {
        _ if !cli.signatures.is_empty() => Some("--signatures reads every packet"),
        _ if cli.write.is_some() => Some("-w writes every packet"),
        _ if tunnels != Tunnels::Outer => Some("--tunnel inner/both reads every packet"),
        _ if expression => Some("a pcap expression reads every packet"),
        _ if cli.direction.and_then(cli::Directions::only).is_some() => {
            Some("-Q leaves packets out after capture")
        }
        _ if !matches!(cli.interface.as_deref(), None | Some("any")) => {
            Some("-i leaves packets out after capture")
        }
        _ => None,
    };
    let only_flows_and_dns = events
        .union(signatures)
        .without(EventSet::FLOWS)
        .without(EventSet::DNS)
        == EventSet::NONE;
    let kernel_flows = match (cli.cpu_budget, stays_whole) {
        (Some(_), Some(why)) => return Err(format!("--cpu-budget: cannot shed: {why}")),
        _ if !events.any_flow() || stays_whole.is_some() => KernelFlowCounting::Never,
        _ if only_flows_and_dns && !cli.user_flow_accounting => {
            KernelFlowCounting::Always(cli.max_flows)
        }
        (Some(_), _) => KernelFlowCounting::WhileShedding(cli.max_flows),
        (None, _) => KernelFlowCounting::Never,
    };
    let live = Live {
        cgroup,
        cgroup_root: preflight::cgroup2_root(),
        sockets: Sockets {
            docker: cli.docker_socket.clone(),
            podman: cli.podman_socket.clone(),
            containerd: cli.containerd_socket.clone(),
        },
        snaplen: match headers_only {
            true => cli.snaplen.min(HEADERS_LEN as u32),
            false => cli.snaplen,
        },
        ring_bytes: cli.ring_size << 20,
        kernel_filter,
        kernel_flows,
        cpu_budget: cli.cpu_budget,
        stats_every: cli.stats.map(Duration::from_secs),
        metrics: cli.metrics,
    };
    let Chosen::Xdp(interface) = chosen else {
        return Ok(Mode::Host(live));
    };
    let (ifindex, queues) =
        preflight::check_xdp_interface(interface, cli.queue, cli.force).map_err(missing)?;
    let (owner_handoff, why) =
        preflight::xdp_owner_handoff(cli.xdp_owner.map(OwnerHandoff::from)).map_err(missing)?;
    if let Some(why) = why {
        note!("netcore: {why}; each frame's owner is prepended to it instead");
    }
    let xdp = Xdp {
        interface: interface.to_owned(),
        ifindex,
        queues,
        owner_handoff,
        discard: cli.xdp_discard,
    };
    Ok(Mode::Xdp(live, xdp))
}

/// How many threads decode: `--threads`, else the CPUs available; at most as many as the
/// parts a split source has; one when a feature needs every flow in one place. Each limit
/// is said when more threads were asked for. Flow records name a flow's ends from the DNS
/// answers of other flows: in host mode the capture programs copy each answer to every
/// thread's ring; elsewhere flow events need one thread. `-w` takes every thread's
/// packets when the source is split (each flow's in order); otherwise (files, one AF_XDP
/// queue) the file must hold the packets in the order they came.
fn decoding_threads(cli: &Cli, events: &EventSet, signatures: bool, mode: &Mode) -> usize {
    let split = mode.split();
    let host_mode = matches!(mode, Mode::Host(_));
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
    if let Some(what) = alone {
        if asked.is_some_and(|n| n > 1) {
            note!("netcore: --threads: decoding on one thread, since {what}");
        }
        return 1;
    }
    let threads = asked
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
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
