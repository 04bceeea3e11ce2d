//! Command-line interface.

use std::path::PathBuf;

use clap::Parser;
use netcore_core::abi::{MAX_SNAPLEN, OwnerHandoff};
use netcore_core::json::{SCHEMAS, Schema};
use netcore_core::{Direction, EventSet};

use crate::state::flows::DEFAULT_MAX_FLOWS;

/// Examples, exit codes and where the documentation is, after the options.
const AFTER_HELP: &str = "\
Examples:
  netcore                                  every packet of every local socket, one line each
  netcore --json --filter comm=curl        Tracee JSON of curl's packets
  netcore --json --schema tracee-0.24      Tracee v0.24's format
  netcore -r capture.pcapng udp port 53    a capture file, with a pcap filter expression
  netcore --xdp mirror0 --json             AF_XDP on a capture/mirror interface

Exit codes: 0 done (or interrupted, or the reader of the output left); 1 a capture file
or the capture failed; 2 a bad argument, filter or expression, or a missing privilege.

Documentation: `man netcore`; the guides (events, filters, live capture, AF_XDP, DNS) are
in /usr/share/doc/netcore when installed from the package, docs/ in the source tree.";

/// netcore: every packet a host sends and receives, as Tracee-compatible network events.
///
/// Without -r it captures live (host mode, as root): every packet of every local socket,
/// both directions, attributed to the process that owns the socket.
#[derive(Debug, Parser)]
#[command(
    name = "netcore",
    version,
    about,
    long_about = None,
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Print one Tracee-compatible JSON event per line (default: one readable line per
    /// packet, tcpdump-like, with its owner).
    #[arg(long)]
    pub json: bool,

    /// Decode a pcap or pcapng capture file (`-`: standard input) instead of capturing live.
    /// Link types: ETHERNET (FCS left out when announced), RAW, IPV4, IPV6, LINUX_SLL,
    /// LINUX_SLL2, NULL, LOOP, PPP, PPP_HDLC, IEEE802_11, IEEE802_11_RADIOTAP, NFLOG.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// Decoding threads (default: the CPUs available), in every mode. Each handles a share
    /// of the flows, and each flow's events keep their order. Host mode: the kernel spreads
    /// flows over one ring buffer per thread (at most 16), flows interleave as they come.
    /// File and AF_XDP mode: the events keep the order one thread writes them in. One
    /// thread with --signatures, flow events, -w, --evidence or -c, which need every flow
    /// in one place.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// Text output: one line per event instead of one per packet.
    #[arg(long, conflicts_with = "json")]
    pub text_events: bool,

    /// JSON schema: tracee-0.22 (the reference format, Tracee up to v0.23) or tracee-0.24
    /// (Tracee v0.24: new event ids and argument types, packet direction in `metadata`).
    #[arg(long, value_name = "SCHEMA", default_value = "tracee-0.22", value_parser = parse_schema)]
    pub schema: &'static Schema,

    /// Comma-separated events to print, e.g. net_packet_tcp,net_packet_udp; repeatable.
    /// `all` (the default) is the nine packet events; the flow events (net_flow,
    /// net_flow_tcp_begin, net_flow_tcp_end) are printed when named here or in a filter; a
    /// signature's event name (with --signatures) prints that signature's findings.
    #[arg(long = "events", value_name = "LIST")]
    pub events: Vec<String>,

    /// Stop after COUNT packets that gave events (as tcpdump's -c).
    #[arg(short = 'c', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Only packets received (in), sent (out) or both (inout, the default), as tcpdump's
    /// -Q; packets whose direction the source does not know (classic pcap) are kept.
    #[arg(short = 'Q', long = "direction", value_name = "DIR", value_enum)]
    pub direction: Option<Directions>,

    /// A pcap filter expression, as tcpdump takes it (`port 53 and host 10.0.0.1`); the
    /// words after the options are one too.
    #[arg(long = "bpf", value_name = "EXPR", conflicts_with = "expression")]
    pub bpf: Option<String>,

    /// A pcap filter expression (pcap-filter(7)), e.g. `udp port 53`.
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true)]
    pub expression: Vec<String>,

    /// Print the version, the git commit and the kernel features found, then exit.
    #[arg(short = 'V', long)]
    pub version: bool,

    /// Write a man page (`man`) or shell completions (`bash`, `zsh`, `fish`) to stdout.
    #[arg(long, value_name = "WHAT", value_enum, hide = true)]
    pub generate: Option<Generate>,

    /// Events of tunnelled packets (VXLAN, Geneve, GRE/ERSPAN, IP-in-IP, Teredo): the outer
    /// packet (Tracee's view), the inner one (a mirror interface's), or both. Default: both
    /// for files and AF_XDP; outer in host mode, where inner packets of a local overlay
    /// are seen at their own sockets too.
    #[arg(long, value_name = "WHICH", value_enum)]
    pub tunnel: Option<crate::pipeline::Tunnels>,

    /// Host mode: only packets that cross this interface of netcore's network namespace
    /// (`any`: all, the default).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", conflicts_with_all = ["read", "xdp"])]
    pub interface: Option<String>,

    /// Accepted for tcpdump's habit: netcore never resolves addresses to names.
    #[arg(short = 'n', hide = true)]
    pub numeric: bool,

    /// Tracee filter, repeatable (AND): event=NAME[,NAME], EVENT.args.FIELD<op>VALUE,
    /// comm=, executable=, pid=, tid=, uid=, cgroupId=, container[=ID|new], containerName=,
    /// containerImage=, podName=, podNamespace=, podUID=, mntns=, pidns=. See docs/filters.md.
    #[arg(long = "filter", value_name = "EXPR")]
    pub filters: Vec<String>,

    /// Write the packets that give events to FILE: pcapng with each packet's owner as
    /// comments (ptcpdump's format) and its direction, or pcap when FILE ends in `.pcap`;
    /// `-` is standard output. Works with --json.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -w: start a new file when one reaches MB millions of bytes (FILE, FILE1, FILE2
    /// …, as tcpdump).
    #[arg(short = 'C', value_name = "MB", requires = "write",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub file_size: Option<u64>,

    /// With -C: keep N files, reused in turn (FILE0 … FILE<N-1>).
    #[arg(short = 'W', value_name = "N", requires = "file_size",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub file_count: Option<u32>,

    /// Where the events go, repeatable: stdout, file:PATH[?max-size=MB&max-files=N],
    /// kafka://HOST:PORT[,…]/TOPIC[?librdkafka.setting=VALUE…], nats://HOST:PORT/SUBJECT;
    /// each takes ?format=json|text|text-events (default JSON; stdout follows --json).
    /// OpenTelemetry: otlp://HOST[:PORT] (gRPC), otlp+http(s)://HOST[:PORT][/PREFIX], or
    /// otlp (OTEL_EXPORTER_OTLP_*), with ?compression=gzip&ca=FILE&headers=NAME=VALUE,….
    /// Default: stdout. See docs/outputs.md.
    #[arg(long, value_name = "URL")]
    pub output: Vec<crate::sink::OutputSpec>,

    /// What an output does when its queue is full: drop (count and go on; live default)
    /// or block (capture waits; file mode's default).
    #[arg(long, value_name = "POLICY")]
    pub output_policy: Option<crate::sink::Policy>,

    /// Batches (of up to 64 KiB of events) each output's queue holds.
    #[arg(long, value_name = "BATCHES", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub output_queue: u32,

    /// Live: serve Prometheus metrics at http://ADDR/metrics (ADDR: HOST:PORT, or a PORT
    /// alone for loopback, 127.0.0.1:PORT).
    #[arg(long, value_name = "ADDR", conflicts_with = "read", value_parser = parse_metrics)]
    pub metrics: Option<std::net::SocketAddr>,

    /// Live: bytes of each packet to capture, from its IP header on.
    #[arg(long, value_name = "BYTES", default_value_t = 1024, conflicts_with = "read",
          value_parser = clap::value_parser!(u32).range(64..=MAX_SNAPLEN as i64))]
    pub snaplen: u32,

    /// Live: size of each ring buffer in MiB (a power of two; host mode has one per
    /// decoding thread); larger absorbs longer bursts.
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = parse_ring_size,
          conflicts_with = "read")]
    pub ring_size: u32,

    /// Live: capture only this cgroup v2 directory's subtree (default: the whole host).
    #[arg(long, value_name = "DIR", conflicts_with = "read")]
    pub cgroup: Option<PathBuf>,

    /// Capture the frames arriving on IFACE with AF_XDP instead of host mode. AF_XDP takes
    /// them off the host stack: for a capture or mirror interface.
    #[arg(long, value_name = "IFACE", conflicts_with = "read")]
    pub xdp: Option<String>,

    /// With --xdp: read only this rx queue (default: all).
    #[arg(long, value_name = "N", requires = "xdp")]
    pub queue: Option<u32>,

    /// With --xdp: capture even on an interface that carries a default route.
    #[arg(long, requires = "xdp")]
    pub force: bool,

    /// With --xdp: how the XDP program hands each frame's owner to netcore: in the XDP
    /// metadata, or prepended to the frame (for kernels and drivers without XDP metadata).
    /// Default: metadata where the kernel offers it.
    #[arg(long, value_name = "WAY", requires = "xdp")]
    pub xdp_owner: Option<XdpOwner>,

    /// With --xdp: count frames without decoding them (benchmark baseline).
    #[arg(long, requires = "xdp", hide = true)]
    pub xdp_discard: bool,

    /// Most flows tracked at once for the flow events (net_flow, net_flow_tcp_begin/_end);
    /// a new flow finding the table full is not tracked, and counted.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FLOWS as u32,
          value_parser = clap::value_parser!(u32).range(1..) )]
    pub max_flows: u32,

    /// Do not install the seccomp filter after start-up (to tell whether it refused a call
    /// a run needs: the kernel log names each refused call, docs/live.md).
    #[arg(long)]
    pub no_seccomp: bool,

    /// Host mode: count every packet of the flows in user space, even when only flow and
    /// DNS events are selected (then the capture programs count the flows themselves and
    /// send up only the packets the events read; see docs/performance.md).
    #[arg(long)]
    pub user_flow_accounting: bool,

    /// Host mode: the CPU netcore's process may use, as a fraction of one core (0.1: a
    /// tenth). Above it netcore sheds work — the packet events of one in N packets,
    /// N announced on each (`"sampled"`), flows counted in the kernel meanwhile — and
    /// never flow counts, DNS transactions or DNS events; it recovers when load drops.
    #[arg(long, value_name = "FRACTION", value_parser = parse_cpu_budget)]
    pub cpu_budget: Option<f64>,

    /// The Community ID v1 seed (net_flow records, --community-id).
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub community_id_seed: u16,

    /// With --json: add the flow's Community ID to every TCP, UDP, ICMP and ICMPv6 event
    /// (a `community_id` argument after the others).
    #[arg(long, requires = "json")]
    pub community_id: bool,

    /// net_dns_transaction: how long a DNS query waits for its response before it is
    /// reported unanswered (queries still waiting when the run ends are reported then).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_dns_timeout)]
    pub dns_timeout: u64,

    /// Also write a net_flow record of each open flow every SECONDS (besides its last).
    #[arg(long, value_name = "SECONDS", value_parser = parse_stats_interval)]
    pub flow_report: Option<u64>,

    /// Run signatures over the events and print their findings: `builtin` (all), or names
    /// from --list-signatures; repeatable.
    #[arg(long, value_name = "LIST")]
    pub signatures: Vec<String>,

    /// List the built-in signatures and exit.
    #[arg(long)]
    pub list_signatures: bool,

    /// With --signatures: keep each flow's last packets and, when a signature fires, write
    /// the flow's packets (those kept and those of the next --evidence-seconds) to
    /// DIR/<finding>-<ns>-<flow>.pcapng, named in the finding's `evidence` argument.
    #[arg(long, value_name = "DIR", requires = "signatures")]
    pub evidence: Option<PathBuf>,

    /// With --evidence: how long after a finding its flow's packets are still written.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        requires = "evidence"
    )]
    pub evidence_seconds: u64,

    /// With --evidence: packets kept per flow before a finding.
    #[arg(long, value_name = "N", default_value_t = 32, requires = "evidence",
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub evidence_packets: u32,

    /// With --evidence: MiB of packets kept in all (the flows kept longest give way first).
    #[arg(long, value_name = "MIB", default_value_t = 64, requires = "evidence",
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub evidence_memory: u32,

    /// With --signatures: print the findings only.
    #[arg(long, requires = "signatures")]
    pub findings_only: bool,

    /// The indicator list of the ioc signature: domains, addresses, CIDR prefixes, one per
    /// line; read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub ioc_file: Option<PathBuf>,

    /// The domain the dns_e2e signature expects answers for.
    #[arg(long, value_name = "DOMAIN", default_value = "uol.com.br")]
    pub e2e_dns_domain: String,

    /// Live: Docker's API socket, asked for container names, images and pods.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/run/docker.sock",
        conflicts_with = "read"
    )]
    pub docker_socket: PathBuf,

    /// Live: Podman's API socket (`podman system service`).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/podman/podman.sock",
        conflicts_with = "read"
    )]
    pub podman_socket: PathBuf,

    /// Live: containerd's API socket (Kubernetes through CRI included).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/run/containerd/containerd.sock",
        conflicts_with = "read"
    )]
    pub containerd_socket: PathBuf,

    /// Live: print a statistics line on stderr every SECONDS (default 1).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "1",
          value_parser = parse_stats_interval, conflicts_with = "read")]
    pub stats: Option<u64>,
}

impl Cli {
    /// The built-in signatures' settings (`--e2e-dns-domain`, `--ioc-file`).
    pub fn signature_config(&self) -> crate::signatures::Config {
        crate::signatures::Config {
            e2e_dns_domain: self.e2e_dns_domain.clone(),
            ioc_file: self.ioc_file.clone(),
        }
    }
}

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The man page (roff).
    Man,
    /// bash completions.
    Bash,
    /// zsh completions.
    Zsh,
    /// fish completions.
    Fish,
}

/// `--xdp-owner`: how the XDP program hands each frame's owner over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpOwner {
    /// In the XDP metadata area before the frame.
    Metadata,
    /// Prepended to the frame, and stripped by netcore.
    Prepended,
}

impl From<XdpOwner> for OwnerHandoff {
    fn from(way: XdpOwner) -> OwnerHandoff {
        match way {
            XdpOwner::Metadata => OwnerHandoff::Metadata,
            XdpOwner::Prepended => OwnerHandoff::Prepended,
        }
    }
}

/// The directions `-Q` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Directions {
    /// Received packets.
    In,
    /// Sent packets.
    Out,
    /// Both.
    Inout,
}

impl Directions {
    /// The one direction kept, or `None` for both.
    pub fn only(self) -> Option<Direction> {
        match self {
            Directions::In => Some(Direction::Ingress),
            Directions::Out => Some(Direction::Egress),
            Directions::Inout => None,
        }
    }
}

/// Writes the man page or the completions for `what` to `out`.
pub fn generate(what: Generate, out: &mut impl std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let shell = match what {
        Generate::Man => return clap_mangen::Man::new(command).render(out),
        Generate::Bash => clap_complete::Shell::Bash,
        Generate::Zsh => clap_complete::Shell::Zsh,
        Generate::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut command, "netcore", out);
    Ok(())
}

/// The events `--events` lists: the packet and flow events, and the names it gave that
/// are no such event (a signature's findings, `finding_names` says which are).
pub fn parse_events(
    lists: &[String],
    finding_names: &[&str],
) -> Result<(EventSet, Vec<String>), String> {
    let mut events = EventSet::NONE;
    let mut findings = Vec::new();
    for name in lists.iter().flat_map(|l| l.split(',')).map(str::trim) {
        if name == "all" {
            events = events.union(EventSet::DEFAULT);
        } else if let Ok(set) = EventSet::parse(name) {
            events = events.union(set);
        } else if finding_names.contains(&name) {
            findings.push(name.to_owned());
        } else {
            let mut message = EventSet::parse(name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            if !finding_names.is_empty() {
                message.push_str(&format!("; findings: {}", finding_names.join(" ")));
            }
            return Err(message);
        }
    }
    Ok((events, findings))
}

fn parse_stats_interval(seconds: &str) -> Result<u64, String> {
    match seconds.parse::<u64>() {
        Ok(n @ 1..) => Ok(n),
        _ => Err("a whole number of seconds, at least 1".to_owned()),
    }
}

/// `--metrics`: HOST:PORT, or a port alone on loopback (only a named address listens
/// beyond the host).
fn parse_metrics(address: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = address.parse::<u16>() {
        return Ok((std::net::Ipv4Addr::LOCALHOST, port).into());
    }
    address
        .parse()
        .map_err(|_| "HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464) or a port alone".to_owned())
}

/// `--dns-timeout`: seconds, fractions allowed, from 1 ms to an hour; in ns.
fn parse_dns_timeout(seconds: &str) -> Result<u64, String> {
    match seconds.parse::<f64>() {
        Ok(s) if (0.001..=3600.0).contains(&s) => Ok((s * 1e9) as u64),
        _ => Err("seconds (fractions allowed) from 0.001 to 3600".to_owned()),
    }
}

/// `--cpu-budget`: a fraction of one core, from 0.01 to 64.
fn parse_cpu_budget(fraction: &str) -> Result<f64, String> {
    match fraction.parse::<f64>() {
        Ok(f) if (0.01..=64.0).contains(&f) => Ok(f),
        _ => Err("a fraction of one core from 0.01 to 64 (e.g. 0.1)".to_owned()),
    }
}

fn parse_schema(name: &str) -> Result<&'static Schema, String> {
    Schema::by_name(name).ok_or_else(|| {
        let names: Vec<&str> = SCHEMAS.iter().map(|s| s.name).collect();
        format!("unknown schema; valid: {}", names.join(", "))
    })
}

fn parse_ring_size(mib: &str) -> Result<u32, String> {
    match mib.parse::<u32>() {
        Ok(n @ 1..=1024) if n.is_power_of_two() => Ok(n),
        _ => Err(format!("{mib}: expected a power of two from 1 to 1024")),
    }
}
