//! The event model: which Tracee network events exist, which ones a user selected, the
//! envelope (time, task, host) every event carries, and [`PacketEvents`], the decided
//! events of one packet that the encoders format. Event ids are not here: they belong to
//! a schema (`json::Schema`).

use core::fmt;

use crate::dns::DnsMessage;
use crate::http;
use crate::packet::{Decoded, Network, Transport};

/// A Tracee network event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `net_packet_ipv4`.
    Ipv4,
    /// `net_packet_ipv6`.
    Ipv6,
    /// `net_packet_tcp`.
    Tcp,
    /// `net_packet_udp`.
    Udp,
    /// `net_packet_icmp`.
    Icmp,
    /// `net_packet_icmpv6`.
    Icmpv6,
    /// `net_packet_dns`.
    Dns,
    /// `net_packet_dns_request`.
    DnsRequest,
    /// `net_packet_dns_response`.
    DnsResponse,
    /// `net_packet_http`: an HTTP/1.x request or response head.
    Http,
    /// `net_packet_http_request`.
    HttpRequest,
    /// `net_packet_http_response`.
    HttpResponse,
    /// `net_packet_raw`: the IP packet's bytes (Tracee's id 701, a kernel event there).
    Raw,
}

impl EventKind {
    /// Every event: Tracee's user-space network events in id order, then
    /// `net_packet_raw`.
    pub const ALL: [EventKind; 13] = [
        EventKind::Ipv4,
        EventKind::Ipv6,
        EventKind::Tcp,
        EventKind::Udp,
        EventKind::Icmp,
        EventKind::Icmpv6,
        EventKind::Dns,
        EventKind::DnsRequest,
        EventKind::DnsResponse,
        EventKind::Http,
        EventKind::HttpRequest,
        EventKind::HttpResponse,
        EventKind::Raw,
    ];

    /// Tracee's event name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Ipv4 => "net_packet_ipv4",
            EventKind::Ipv6 => "net_packet_ipv6",
            EventKind::Tcp => "net_packet_tcp",
            EventKind::Udp => "net_packet_udp",
            EventKind::Icmp => "net_packet_icmp",
            EventKind::Icmpv6 => "net_packet_icmpv6",
            EventKind::Dns => "net_packet_dns",
            EventKind::DnsRequest => "net_packet_dns_request",
            EventKind::DnsResponse => "net_packet_dns_response",
            EventKind::Http => "net_packet_http",
            EventKind::HttpRequest => "net_packet_http_request",
            EventKind::HttpResponse => "net_packet_http_response",
            EventKind::Raw => "net_packet_raw",
        }
    }

    /// The event with this Tracee name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The event a network layer yields.
    pub fn of_network(network: &Network<'_>) -> EventKind {
        match network {
            Network::Ipv4(_) => EventKind::Ipv4,
            Network::Ipv6(_) => EventKind::Ipv6,
        }
    }

    /// The event a transport layer yields.
    pub fn of_transport(transport: &Transport<'_>) -> EventKind {
        match transport {
            Transport::Tcp(_) => EventKind::Tcp,
            Transport::Udp(_) => EventKind::Udp,
            Transport::Icmp(_) => EventKind::Icmp,
            Transport::Icmpv6(_) => EventKind::Icmpv6,
        }
    }

    /// Whether this is a transport-layer event (TCP, UDP, ICMP, ICMPv6).
    pub fn is_transport(self) -> bool {
        matches!(
            self,
            EventKind::Tcp | EventKind::Udp | EventKind::Icmp | EventKind::Icmpv6
        )
    }

    /// Position in [`EventKind::ALL`], for tables indexed by event.
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// The DNS events a message yields, in order: `net_packet_dns` always; with exactly one
/// question, `net_packet_dns_request` for a query (QR = 0: Tracee's documented rule; the
/// reference page's second request example is a reply an old Tracee printed by mistake)
/// or `net_packet_dns_response` for a response.
pub fn dns_events(message: &DnsMessage<'_>) -> impl Iterator<Item = EventKind> {
    let one_question = message.single_question().is_some();
    [
        (EventKind::Dns, true),
        (EventKind::DnsRequest, one_question && message.qr() == 0),
        (EventKind::DnsResponse, one_question && message.qr() == 1),
    ]
    .into_iter()
    .filter_map(|(kind, applies)| applies.then_some(kind))
}

/// The flow events — what the flow table reports of a connection, its DNS lookups and
/// connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// `net_flow`: netcore's connection record.
    Record,
    /// `net_flow_tcp_begin`: Tracee's, at a TCP handshake's SYN+ACK.
    TcpBegin,
    /// `net_flow_tcp_end`: Tracee's, when a TCP connection ends.
    TcpEnd,
    /// `net_connect_failure`: netcore's, a connection refused, unreachable or timed out.
    ConnectFailure,
    /// `net_dns_transaction`: netcore's, a DNS query paired with its response.
    DnsTransaction,
    /// `net_tcp_connect`: Tracee's, a local socket's TCP connect (its first SYN).
    TcpConnect,
}

impl FlowKind {
    /// Every flow event.
    pub const ALL: [FlowKind; 6] = [
        FlowKind::Record,
        FlowKind::TcpBegin,
        FlowKind::TcpEnd,
        FlowKind::ConnectFailure,
        FlowKind::DnsTransaction,
        FlowKind::TcpConnect,
    ];

    /// The event's name.
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::Record => "net_flow",
            FlowKind::TcpBegin => "net_flow_tcp_begin",
            FlowKind::TcpEnd => "net_flow_tcp_end",
            FlowKind::ConnectFailure => "net_connect_failure",
            FlowKind::DnsTransaction => "net_dns_transaction",
            FlowKind::TcpConnect => "net_tcp_connect",
        }
    }

    /// The flow event called `name`.
    pub fn from_name(name: &str) -> Option<FlowKind> {
        FlowKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Position in [`FlowKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl FlowKind {
    const fn bit(self) -> u32 {
        1 << (EventKind::ALL.len() + self as usize)
    }
}

/// A set of selected events: packet events ([`EventKind`]) and flow events
/// ([`FlowKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSet(u32);

/// An event name that is not one of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent<'a>(pub &'a str);

impl fmt::Display for UnknownEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown event '{}'; valid events are:", self.0)?;
        for kind in EventKind::ALL {
            write!(f, " {}", kind.name())?;
        }
        for kind in FlowKind::ALL {
            write!(f, " {}", kind.name())?;
        }
        Ok(())
    }
}

impl EventSet {
    /// Every event, packet and flow events.
    pub const ALL: EventSet = EventSet((1 << (EventKind::ALL.len() + FlowKind::ALL.len())) - 1);
    /// The nine events of Tracee's network-events page, what `--events all` selects (HTTP
    /// and flow events are printed when named).
    pub const DEFAULT: EventSet = EventSet((1 << 9) - 1);
    /// The three HTTP events.
    pub const HTTP: EventSet = EventSet(
        EventKind::Http.bit() | EventKind::HttpRequest.bit() | EventKind::HttpResponse.bit(),
    );
    /// The flow events.
    pub const FLOWS: EventSet = EventSet(
        FlowKind::Record.bit()
            | FlowKind::TcpBegin.bit()
            | FlowKind::TcpEnd.bit()
            | FlowKind::ConnectFailure.bit()
            | FlowKind::DnsTransaction.bit()
            | FlowKind::TcpConnect.bit(),
    );
    /// No event.
    pub const NONE: EventSet = EventSet(0);

    /// True if `kind` is selected.
    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True if any of the three DNS events is selected.
    pub fn any_dns(self) -> bool {
        [
            EventKind::Dns,
            EventKind::DnsRequest,
            EventKind::DnsResponse,
        ]
        .into_iter()
        .any(|k| self.contains(k))
    }

    /// True if flow event `kind` is selected.
    pub fn contains_flow(self, kind: FlowKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True if any flow event is selected.
    pub fn any_flow(self) -> bool {
        self.intersect(EventSet::FLOWS) != EventSet::NONE
    }

    /// This set with flow event `kind` added.
    pub fn with_flow(self, kind: FlowKind) -> EventSet {
        EventSet(self.0 | kind.bit())
    }

    /// This set with `kind` added.
    pub fn with(self, kind: EventKind) -> EventSet {
        EventSet(self.0 | kind.bit())
    }

    /// The events in either set.
    pub fn union(self, other: EventSet) -> EventSet {
        EventSet(self.0 | other.0)
    }

    /// The events in both sets.
    pub fn intersect(self, other: EventSet) -> EventSet {
        EventSet(self.0 & other.0)
    }

    /// The events of this set that are not in `other`.
    pub fn without(self, other: EventSet) -> EventSet {
        EventSet(self.0 & !other.0)
    }

    /// The three DNS events.
    pub const DNS: EventSet =
        EventSet(EventKind::Dns.bit() | EventKind::DnsRequest.bit() | EventKind::DnsResponse.bit());

    /// Parses a comma-separated list of event names, e.g. `net_packet_tcp,net_packet_udp`.
    pub fn parse(list: &str) -> Result<EventSet, UnknownEvent<'_>> {
        list.split(',')
            .map(str::trim)
            .try_fold(EventSet::NONE, |set, name| {
                let packet = EventKind::from_name(name).map(|k| set.with(k));
                let flow = || FlowKind::from_name(name).map(|k| set.with_flow(k));
                packet.or_else(flow).ok_or(UnknownEvent(name))
            })
    }
}

/// The envelope of an event: when, on which CPU, which task and which host. Fields a
/// source cannot know stay zero or empty, as in Tracee.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventContext<'a> {
    /// Wall-clock time of the packet, ns since the Unix epoch.
    pub timestamp: u64,
    /// Start time of the owning thread, ns.
    pub thread_start_time: u64,
    /// CPU the packet was seen on.
    pub processor_id: u32,
    /// Process id in the task's pid namespace.
    pub process_id: u32,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Thread id in the task's pid namespace.
    pub thread_id: u32,
    /// Parent process id in the task's pid namespace.
    pub parent_process_id: u32,
    /// Process id in the initial pid namespace.
    pub host_process_id: u32,
    /// Thread id in the initial pid namespace.
    pub host_thread_id: u32,
    /// Parent process id in the initial pid namespace.
    pub host_parent_process_id: u32,
    /// User id.
    pub user_id: u32,
    /// Mount namespace inode.
    pub mount_namespace: u32,
    /// Pid namespace inode.
    pub pid_namespace: u32,
    /// Thread name (comm), raw bytes: escaped when written.
    pub process_name: &'a [u8],
    /// Host name.
    pub host_name: &'a str,
    /// Container id, "" when none.
    pub container_id: &'a str,
    /// Container image (name and tag).
    pub container_image: &'a str,
    /// The container image's digest (`sha256:…`), "" when not known.
    pub container_image_digest: &'a str,
    /// Container name.
    pub container_name: &'a str,
    /// Kubernetes pod name.
    pub pod_name: &'a str,
    /// Kubernetes pod namespace.
    pub pod_namespace: &'a str,
    /// Kubernetes pod UID.
    pub pod_uid: &'a str,
    /// Whether the container had started when the task was seen.
    pub container_started: bool,
    /// Whether the container started after netcore did (the `container=new` filter).
    pub container_new: bool,
    /// The path of the process's executable, "" when not known.
    pub executable: &'a [u8],
    /// The process's arguments, space-separated, "" when not known (pcapng comments).
    pub arguments: &'a [u8],
    /// Names the owner fields (everything but `timestamp` and `processor_id`): contexts
    /// with the same non-zero key carry the same owner, so an encoder may reuse what it
    /// rendered for the last one. 0: never reused.
    pub owner_key: u64,
}

/// Which way a packet travelled, relative to the host; numbered as Tracee's
/// `trace.PacketDirection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Direction {
    /// Not known (a capture file without direction information).
    #[default]
    Unknown = 0,
    /// Received.
    Ingress = 1,
    /// Sent.
    Egress = 2,
}

impl Direction {
    /// The direction with this Tracee number (1 ingress, 2 egress; else unknown).
    pub fn from_number(n: u8) -> Direction {
        match n {
            1 => Direction::Ingress,
            2 => Direction::Egress,
            _ => Direction::Unknown,
        }
    }
}

/// The interface name of a packet whose interface is not known.
pub const ANY_INTERFACE: &str = "any";

/// The decided events of one packet: what the decoder made of it, the DNS message it
/// carries (decoded once, when a DNS event was wanted), and the events that exist and
/// passed the filters. Encoders format exactly these events, in [`PacketEvents::kinds`]
/// order, and decode nothing.
#[derive(Debug, Clone, Copy)]
pub struct PacketEvents<'p, 'a> {
    /// The envelope.
    pub ctx: &'p EventContext<'a>,
    /// The decoded layers.
    pub packet: &'p Decoded<'a>,
    /// The DNS message over UDP, or one reassembled from TCP.
    pub dns: Option<&'p DnsMessage<'a>>,
    /// The HTTP/1.x message head at the start of the TCP payload (read when an HTTP event
    /// was wanted).
    pub http: Option<http::Message<'a>>,
    /// Which way the packet went.
    pub direction: Direction,
    /// The name of the interface it crossed; `any` when unknown (Tracee's word).
    pub interface: &'p str,
    /// The events to write; each one exists in `packet` or `dns`.
    pub events: EventSet,
    /// While netcore sheds work (`--cpu-budget`): the packet is one of every
    /// `sampled_one_in` whose packet events are written, which each event says; 0 when
    /// every packet's are.
    pub sampled_one_in: u32,
}

impl<'p, 'a> PacketEvents<'p, 'a> {
    /// The events of `wanted` that `packet` and `dns` yield.
    pub fn new(
        ctx: &'p EventContext<'a>,
        packet: &'p Decoded<'a>,
        dns: Option<&'p DnsMessage<'a>>,
        direction: Direction,
        wanted: EventSet,
    ) -> Self {
        let mut present = EventSet::NONE;
        if let Some(network) = &packet.network {
            present = present
                .with(EventKind::of_network(network))
                .with(EventKind::Raw);
            if let Some(transport) = &packet.transport {
                present = present.with(EventKind::of_transport(transport));
            }
        }
        if let Some(message) = dns
            && packet.transport.and_then(|t| t.ports()).is_some()
        {
            present = dns_events(message).fold(present, EventSet::with);
        }
        let http = match packet.transport {
            Some(Transport::Tcp(tcp)) if wanted.intersect(EventSet::HTTP) != EventSet::NONE => {
                http::parse(tcp.payload())
            }
            _ => None,
        };
        present = match http {
            Some(http::Message::Request(_)) => {
                present.with(EventKind::Http).with(EventKind::HttpRequest)
            }
            Some(http::Message::Response(_)) => {
                present.with(EventKind::Http).with(EventKind::HttpResponse)
            }
            None => present,
        };
        PacketEvents {
            ctx,
            packet,
            dns,
            http,
            direction,
            interface: ANY_INTERFACE,
            events: present.intersect(wanted),
            sampled_one_in: 0,
        }
    }

    /// Decides the events of `packet` with no filter — its DNS message over UDP decoded
    /// only when a DNS event is wanted, as the pipeline does — and hands them to `f`. For
    /// callers without a pipeline: benchmarks, fuzzers, tests.
    pub fn decide<R>(
        ctx: &EventContext<'a>,
        packet: &Decoded<'a>,
        direction: Direction,
        wanted: EventSet,
        f: impl FnOnce(&PacketEvents<'_, 'a>) -> R,
    ) -> R {
        let dns = if wanted.any_dns() {
            packet.dns_over_udp().and_then(Result::ok)
        } else {
            None
        };
        f(&PacketEvents::new(
            ctx,
            packet,
            dns.as_ref(),
            direction,
            wanted,
        ))
    }

    /// The events to write, in output order: network, transport, then DNS.
    pub fn kinds(&self) -> impl Iterator<Item = EventKind> + use<> {
        let events = self.events;
        EventKind::ALL
            .into_iter()
            .filter(move |&k| events.contains(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse_lists() {
        let set = EventSet::parse("net_packet_tcp, net_packet_udp").unwrap();
        assert!(set.contains(EventKind::Tcp) && set.contains(EventKind::Udp));
        assert!(!set.contains(EventKind::Ipv4));
        for kind in EventKind::ALL {
            assert!(EventSet::ALL.contains(kind));
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = EventSet::parse("net_packet_tcp,net_packet_sctp").unwrap_err();
        assert_eq!(err, UnknownEvent("net_packet_sctp"));
        assert!(
            err.to_string()
                .contains("valid events are: net_packet_ipv4")
        );
        assert!(EventSet::parse("").is_err());
    }
}
