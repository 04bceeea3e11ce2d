//! The flow table: one entry per TCP, UDP or ICMP conversation (per network namespace),
//! fed every decoded packet when a flow event is selected, and the names DNS answers gave
//! each address ([`DnsNames`](super::dns_names::DnsNames)). It decides when the flow events are due and hands them to
//! a callback; the encoders format them.
//!
//! Bounds: at most `--max-flows` entries (default [`DEFAULT_MAX_FLOWS`]); an entry takes
//! ~500 bytes with its key (112 of them the TCP health analysis), plus ~300 bytes for
//! each local end's owner and the names and server name it holds: 40–100 MB at the default. A new flow that finds the table full,
//! after idle flows are swept out, is not tracked and is counted. Idle timeouts as Zeek's: TCP 5 min, UDP and
//! ICMP 1 min. A closed connection lingers [`CLOSE_LINGER_NS`] for its last ACKs before
//! its record is written.
//!
//! Host mode's flow accounting: when the capture programs count a flow's packets
//! themselves ([`KernelFlowCounts`]), the table sees only the packets they send up
//! (marked counted), and adds the kernel's counters to its own when it writes the flow's
//! record, and to tell whether the flow is idle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use netcore_core::abi::flow_counts::{FlowCountKey, FlowCounters};
use netcore_core::dns::DnsMessage;
use netcore_core::flow::community_id::{CommunityId, community_id};
use netcore_core::flow::conn::{Conn, Side, Transport as ConnTransport};
use netcore_core::flow::failure::{SocketReport, quoted_endpoints};
use netcore_core::flow::health::{Health, Segment};
use netcore_core::flow::{
    Cause, ConnDirection, Counts, DnsTransaction, Failure, Flow, FlowKind, Reason,
};
use netcore_core::owner::Owner;
use netcore_core::packet::{Decoded, Transport};
use netcore_core::tcp::flag;

use super::dns_names::DnsNames;
use super::dns_transactions::{Answered, DnsTransactions, Query, TransactionStats};
use super::flow_packet::{Key, Packet};
use netcore_core::{Direction, EventContext, http, ip, tls};

/// Default `--max-flows`: a busy host's connections.
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
/// How long a closed connection's entry stays for its trailing packets, ns.
pub const CLOSE_LINGER_NS: u64 = 2_000_000_000;
/// Idle timeouts, ns.
const TCP_IDLE_NS: u64 = 300_000_000_000;
const OTHER_IDLE_NS: u64 = 60_000_000_000;
/// How long a flow of `protocol` may go without a packet before it ends idle, ns.
pub fn idle_timeout_ns(protocol: u8) -> u64 {
    match protocol {
        ip::TCP => TCP_IDLE_NS,
        _ => OTHER_IDLE_NS,
    }
}

/// Idle flows are swept out at most this often (packet time), ns.
const SWEEP_EVERY_NS: u64 = 1_000_000_000;

/// Flow-table settings from the command line.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Which flow events are selected.
    pub record: bool,
    /// Tracee's `net_flow_tcp_begin` / `net_flow_tcp_end`.
    pub tcp_begin: bool,
    /// See above.
    pub tcp_end: bool,
    /// `net_connect_failure`.
    pub connect_failure: bool,
    /// `net_dns_transaction`.
    pub dns_transaction: bool,
    /// `net_tcp_connect`.
    pub tcp_connect: bool,
    /// How long a DNS query waits for its response before it is unanswered, ns.
    pub dns_timeout_ns: u64,
    /// Most flows tracked at once.
    pub max_flows: usize,
    /// The Community ID seed.
    pub community_id_seed: u16,
    /// Write a record of each open flow this often (ns), besides its last.
    pub report_every_ns: Option<u64>,
}

/// The capture programs' flow counters (host mode's flow accounting), read by the table
/// for the flows whose packets they counted.
pub trait KernelFlowCounts: Send + Sync {
    /// The counters of flow `key`, their times in wall-clock ns; `take`: removed from the
    /// kernel's table at the same time (the flow leaves this one). `None` when the kernel
    /// counts no such flow.
    fn read(&self, key: &FlowCountKey, take: bool) -> Option<FlowCounters>;
}

/// One tracked flow.
struct Tracked {
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    start_ns: u64,
    last_ns: u64,
    last_report_ns: u64,
    /// What this table counted, originator first.
    counts: [Counts; 2],
    /// What the kernel counted (flow accounting), as last read, and the packets it
    /// counted that were sent up since.
    kernel_counts: [Counts; 2],
    /// The local sockets' retransmitted segments, as the kernel last saw them.
    socket_retransmits: [u32; 2],
    /// Whether the kernel counts some of its packets.
    kernel_counted: bool,
    conn: Conn,
    /// TCP: Wireshark's analysis of the segments.
    health: Health,
    community_id: Option<CommunityId>,
    names: [Vec<String>; 2],
    /// The round trip of the DNS lookup that named the responder, ns (0: none seen).
    dns_rtt_ns: u64,
    server_name: Vec<u8>,
    alpn: Vec<Vec<u8>>,
    http_host: Vec<u8>,
    /// Whether each end is a local socket, as the packets' directions told.
    local: [bool; 2],
    /// Boxed: most flows have one local end, file-mode flows none.
    owners: [Option<Box<Owner>>; 2],
    /// Whether the originator's first payload was looked at (TLS, HTTP).
    payload_seen: bool,
    /// When the connection ended (both FINs or a RST), if it did.
    closed_at: Option<u64>,
    /// SYNs (without ACK) the originator sent.
    syns: u32,
    /// Whether its `net_connect_failure` was written.
    failure_reported: bool,
}

impl Tracked {
    /// The record view of this flow, for `reason`.
    fn view(&self, protocol: u8, reason: Reason) -> Flow<'_> {
        let [orig_counts, resp_counts] = self.totals();
        let health = |side: Side| {
            let mut counts = self.health.counts(side);
            let socket = self.socket_retransmits[side.index()];
            counts.retransmits = counts.retransmits.max(socket);
            counts
        };
        Flow {
            protocol,
            orig: self.orig,
            resp: self.resp,
            start_ns: self.start_ns,
            last_ns: self.last_ns,
            orig_counts,
            resp_counts,
            conn_state: self.conn.state(orig_counts.bytes, resp_counts.bytes),
            history: self.conn.history(),
            initial_rtt_ns: self.health.initial_rtt_ns(),
            dns_rtt_ns: self.dns_rtt_ns,
            orig_health: health(Side::Orig),
            resp_health: health(Side::Resp),
            community_id: self.community_id.as_ref().map_or("", |c| c.as_str()),
            orig_names: &self.names[0],
            resp_names: &self.names[1],
            server_name: &self.server_name,
            alpn: &self.alpn,
            http_host: &self.http_host,
            direction: match self.local {
                [true, _] => ConnDirection::Outgoing,
                [false, true] => ConnDirection::Incoming,
                [false, false] => ConnDirection::Unknown,
            },
            reason,
            failure: None,
            transaction: None,
        }
    }

    /// What `net_connect_failure` counts as the originator's attempts: its SYNs (TCP), or
    /// its datagrams.
    fn attempts(&self, protocol: u8) -> u64 {
        match protocol {
            ip::TCP => self.syns.into(),
            _ => self.totals()[Side::Orig.index()].packets,
        }
    }

    /// Whether the responder sent anything.
    fn answered(&self) -> bool {
        self.totals()[Side::Resp.index()].packets > 0
    }

    /// What each side sent: what the table counted and what the kernel did.
    fn totals(&self) -> [Counts; 2] {
        [0, 1].map(|side| self.counts[side] + self.kernel_counts[side])
    }

    /// Takes in the kernel's counters of the flow filed under `key` (`take`: removing them
    /// there), when the kernel counts it.
    fn read_kernel(&mut self, kernel: Option<&dyn KernelFlowCounts>, key: &Key, take: bool) {
        let (Some(kernel), Some(kernel_key), true) =
            (kernel, key.kernel_key(), self.kernel_counted)
        else {
            return;
        };
        let Some(counters) = kernel.read(&kernel_key, take) else {
            return;
        };
        // The kernel's pairs start with the key's lower endpoint.
        let orig_way = usize::from(self.orig != key.low);
        for (side, way) in [(0, orig_way), (1, 1 - orig_way)] {
            self.kernel_counts[side] = Counts {
                packets: counters.packets[way],
                ip_bytes: counters.ip_bytes[way],
                bytes: counters.payload_bytes[way],
            };
            self.socket_retransmits[side] = counters.socket_retransmits[way];
        }
        self.last_ns = self.last_ns.max(counters.last_ns);
    }

    /// Whether the originator is not a local socket while the responder is: a connection
    /// from outside, whose failure has no local initiator.
    fn opened_from_outside(&self) -> bool {
        self.local == [false, true]
    }
}

/// A flow event that is due: its kind, the flow, the envelope (the local end's owner, the
/// originator's first) and the responder's owner when both ends are local.
pub type Emit<'e> =
    dyn FnMut(FlowKind, &Flow<'_>, &EventContext<'_>, Option<&EventContext<'_>>) + 'e;

/// What the flow table did, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlowStats {
    /// Flows tracked.
    pub created: u64,
    /// New flows not tracked because the table was full.
    pub untracked: u64,
    /// Flows ended by an idle timeout.
    pub idle: u64,
    /// Addresses the DNS-name cache forgot because it was full.
    pub names_evicted: u64,
    /// What became of the DNS queries.
    pub transactions: TransactionStats,
}

impl FlowStats {
    /// Adds the counts of `other` (another thread's table, host mode).
    pub fn add(&mut self, other: &FlowStats) {
        let FlowStats {
            created,
            untracked,
            idle,
            names_evicted,
            transactions,
        } = other;
        self.created += created;
        self.untracked += untracked;
        self.idle += idle;
        self.names_evicted += names_evicted;
        self.transactions.add(transactions);
    }
}

/// The flow table, the DNS-name cache and the DNS queries waiting for responses.
pub struct FlowTable {
    config: FlowConfig,
    flows: HashMap<Key, Tracked>,
    names: DnsNames,
    transactions: DnsTransactions,
    /// The capture programs' flow counters, when they count flows.
    kernel: Option<Arc<dyn KernelFlowCounts>>,
    last_sweep_ns: u64,
    /// Counts so far, but the DNS transactions' (see [`FlowTable::stats`]).
    stats: FlowStats,
}

impl FlowTable {
    /// An empty table.
    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            config,
            flows: HashMap::new(),
            names: DnsNames::default(),
            transactions: DnsTransactions::new(config.dns_timeout_ns),
            kernel: None,
            last_sweep_ns: 0,
            stats: FlowStats::default(),
        }
    }

    /// Has the table add the capture programs' counters to its own for the packets they
    /// count (host mode's flow accounting).
    pub fn count_with(&mut self, kernel: Arc<dyn KernelFlowCounts>) {
        self.kernel = Some(kernel);
    }

    /// Accounts one packet seen at `now_ns` in network namespace `netns`, travelling
    /// `direction`, owned by `ctx` (its local socket's owner, if any); emits the flow
    /// events it makes due. `dns` is the DNS message it carries, if decoded;
    /// `kernel_counted`: the kernel's flow counters hold it already.
    #[allow(clippy::too_many_arguments)]
    pub fn packet(
        &mut self,
        now_ns: u64,
        netns: u64,
        decoded: &Decoded<'_>,
        dns: Option<&DnsMessage<'_>>,
        direction: Direction,
        kernel_counted: bool,
        ctx: &EventContext<'_>,
        emit: &mut Emit<'_>,
    ) {
        if now_ns >= self.last_sweep_ns + SWEEP_EVERY_NS {
            self.sweep(now_ns, ctx.host_name, emit);
        }
        if self.config.connect_failure {
            self.icmp_error(now_ns, netns, decoded, ctx.host_name, emit);
        }
        let Some(packet) = Packet::of(decoded) else {
            return;
        };
        if let Some(message) = dns {
            let (src, dst) = (packet.src, packet.dst);
            self.dns_message(
                now_ns,
                netns,
                packet.protocol,
                (src, dst),
                message,
                ctx,
                emit,
            );
        }
        let key = packet.key(netns);
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= self.config.max_flows {
                self.sweep(now_ns, ctx.host_name, emit);
            }
            if self.flows.len() >= self.config.max_flows {
                self.stats.untracked += 1;
                return;
            }
            let entry = self.new_entry(&packet, netns, now_ns);
            self.stats.created += 1;
            self.flows.insert(key, entry);
        }
        let Some(entry) = self.flows.get_mut(&key) else {
            return;
        };
        // ICMP: by address, or on one address (loopback) by the first message's type.
        let from_orig = if !packet.is_icmp() {
            packet.src == entry.orig
        } else if packet.src.0 != packet.dst.0 {
            packet.src.0 == entry.orig.0
        } else {
            packet.src.1 == entry.orig.1
        };
        let side = if from_orig { Side::Orig } else { Side::Resp };
        let index = side.index();
        entry.last_ns = now_ns;
        // Until the kernel's counters are next read, its count of what it sent up.
        entry.kernel_counted |= kernel_counted;
        let counts = match kernel_counted {
            true => &mut entry.kernel_counts[index],
            false => &mut entry.counts[index],
        };
        counts.add_packet(packet.ip_bytes, packet.payload_bytes);
        let was_over = entry.conn.is_over();
        entry
            .conn
            .packet(side, packet.tcp_flags, packet.payload_bytes > 0);
        if let Some(segment) = packet.segment {
            let marks = entry.health.segment(
                side,
                &Segment {
                    time_ns: now_ns,
                    ..segment
                },
            );
            let counts = entry.health.counts(side);
            if marks.retransmission {
                entry.conn.repeated(side, b'T', counts.retransmits);
            }
            if marks.zero_window {
                entry.conn.repeated(side, b'W', counts.zero_windows);
            }
        }
        // The local end is the sender of an egress packet, the receiver of an ingress one.
        let local = match direction {
            Direction::Egress => Some(index),
            Direction::Ingress => Some(1 - index),
            Direction::Unknown => None,
        };
        if let Some(local) = local {
            entry.local[local] = true;
            if entry.owners[local].is_none() && has_owner(ctx) {
                entry.owners[local] = Some(Box::new(Owner::of(ctx)));
            }
        }
        if side == Side::Orig && !entry.payload_seen && !packet.payload.is_empty() {
            entry.payload_seen = true;
            look_into_payload(entry, packet.protocol, packet.payload);
        }
        let protocol = packet.protocol;
        let syn_ack = packet.tcp_flags & (flag::SYN | flag::ACK) == flag::SYN | flag::ACK;
        if side == Side::Orig && packet.tcp_flags & (flag::SYN | flag::ACK) == flag::SYN {
            entry.syns += 1;
            // A local socket's connect (or, without directions, any): Tracee's event.
            if entry.syns == 1 && self.config.tcp_connect && direction != Direction::Ingress {
                let flow = entry.view(protocol, Reason::Closed);
                emit(FlowKind::TcpConnect, &flow, ctx, None);
            }
        }
        // A RST answering the SYN: refused.
        let refused = side == Side::Resp
            && packet.tcp_flags & flag::RST != 0
            && entry.conn.state(0, 0) == "REJ";
        if refused && self.config.connect_failure && !entry.failure_reported {
            let failure = Failure {
                cause: Cause::Refused,
                attempts: entry.attempts(protocol),
                icmp: None,
                error: 0,
            };
            emit_failure(entry, protocol, failure, now_ns, ctx.host_name, emit);
        }
        if protocol == ip::TCP && syn_ack && self.config.tcp_begin && side == Side::Resp {
            emit_tracee(entry, protocol, FlowKind::TcpBegin, direction, ctx, emit);
        }
        if entry.conn.is_over() && !was_over {
            entry.closed_at = Some(now_ns);
            if protocol == ip::TCP && self.config.tcp_end {
                emit_tracee(entry, protocol, FlowKind::TcpEnd, direction, ctx, emit);
            }
        }
    }

    /// What the table did so far.
    pub fn stats(&self) -> FlowStats {
        FlowStats {
            transactions: self.transactions.stats,
            ..self.stats
        }
    }

    /// Reports the connection an ICMP or ICMPv6 error in `decoded` answers, if it is
    /// tracked here and its originator sent the packet the error quotes: unreachable.
    fn icmp_error(
        &mut self,
        now_ns: u64,
        netns: u64,
        decoded: &Decoded<'_>,
        host_name: &str,
        emit: &mut Emit<'_>,
    ) {
        let (protocol, kind, code, quoted) = match decoded.transport {
            Some(Transport::Icmp(i)) => (ip::ICMP, i.icmp_type(), i.code(), i.payload()),
            Some(Transport::Icmpv6(i)) => {
                let quoted = i.body().get(4..).unwrap_or_default();
                (ip::ICMPV6, i.icmp_type(), i.code(), quoted)
            }
            _ => return,
        };
        let Some((transport, src, dst)) = quoted_endpoints(protocol, kind, quoted) else {
            return;
        };
        let Some(entry) = self
            .flows
            .get_mut(&Key::between(netns, transport, src, dst))
        else {
            return;
        };
        if entry.orig != src || entry.failure_reported {
            return;
        }
        let failure = Failure {
            cause: Cause::Unreachable,
            attempts: entry.attempts(transport),
            icmp: Some((kind, code)),
            error: 0,
        };
        emit_failure(entry, transport, failure, now_ns, host_name, emit);
    }

    /// Reports the connection a local socket's failure is about (host mode: the kernel's
    /// `report` of the socket whose packets `decoded`, local to remote, stands for), if it
    /// is tracked here and not reported yet.
    pub fn socket_report(
        &mut self,
        now_ns: u64,
        netns: u64,
        decoded: &Decoded<'_>,
        report: SocketReport,
        host_name: &str,
        emit: &mut Emit<'_>,
    ) {
        let Some(packet) = Packet::of(decoded) else {
            return;
        };
        if !self.config.connect_failure {
            return;
        }
        let Some(entry) = self.flows.get_mut(&packet.key(netns)) else {
            return;
        };
        if entry.failure_reported || entry.orig != packet.src {
            return;
        }
        let Some(cause) = report.cause(entry.answered()) else {
            return;
        };
        let failure = Failure {
            cause,
            attempts: entry.attempts(packet.protocol),
            icmp: None,
            error: report.error(),
        };
        emit_failure(entry, packet.protocol, failure, now_ns, host_name, emit);
    }

    /// Takes DNS message `message`, seen at `now_ns` in network namespace `netns` going
    /// `endpoints` (source, destination) over `protocol`, owned by `ctx`: a query waits
    /// for its response; a response completes it (`net_dns_transaction`) and names the
    /// addresses it gives. [`FlowTable::packet`] calls it for DNS over UDP, the pipeline
    /// for each message reassembled from TCP.
    #[allow(clippy::too_many_arguments)]
    pub fn dns_message(
        &mut self,
        now_ns: u64,
        netns: u64,
        protocol: u8,
        endpoints: ((IpAddr, u16), (IpAddr, u16)),
        message: &DnsMessage<'_>,
        ctx: &EventContext<'_>,
        emit: &mut Emit<'_>,
    ) {
        let (src, dst) = endpoints;
        let owner = || has_owner(ctx).then(|| Box::new(Owner::of(ctx)));
        let seen = (netns, protocol, src, dst);
        let answered = self
            .transactions
            .message(now_ns, seen, message, owner, true);
        let rtt_ns = answered.as_ref().map_or(0, |a| a.rtt_ns);
        self.stats.names_evicted += self.names.learn(netns, message, now_ns, rtt_ns);
        if let Some(answered) = answered.filter(|a| a.query.reported && self.config.dns_transaction)
        {
            emit_transaction(
                &answered.query,
                Some(&answered),
                now_ns,
                ctx.host_name,
                emit,
            );
        }
    }

    /// Learns from `message`, a DNS query or answer over UDP (the packet `decoded`) seen
    /// at `now_ns` in network namespace `netns`, whose flow another table tracks (host mode
    /// on several threads): the query's time, and the names an answer gives addresses with
    /// the lookup's round trip; reports nothing (the other table does).
    pub fn learn_names(
        &mut self,
        now_ns: u64,
        netns: u64,
        decoded: &Decoded<'_>,
        message: &DnsMessage<'_>,
    ) {
        let Some(packet) = Packet::of(decoded) else {
            return;
        };
        let seen = (netns, packet.protocol, packet.src, packet.dst);
        let answered = self
            .transactions
            .message(now_ns, seen, message, || None, false);
        let rtt_ns = answered.map_or(0, |a| a.rtt_ns);
        self.stats.names_evicted += self.names.learn(netns, message, now_ns, rtt_ns);
    }

    /// Writes the records of idle and closed flows, and the periodic reports, due at
    /// `now_ns`; live capture calls it every second, packets as their time advances.
    pub fn sweep(&mut self, now_ns: u64, host_name: &str, emit: &mut Emit<'_>) {
        self.last_sweep_ns = now_ns;
        for query in self.transactions.expired(now_ns) {
            if self.config.dns_transaction && query.reported {
                emit_transaction(&query, None, now_ns, host_name, emit);
            }
        }
        let config = self.config;
        let kernel = self.kernel.clone();
        let mut due = Vec::new();
        for (key, entry) in &mut self.flows {
            let idle_after = idle_timeout_ns(key.protocol);
            let report_due = config
                .report_every_ns
                .is_some_and(|every| now_ns >= entry.last_report_ns + every);
            if entry.closed_at.is_none() && (now_ns >= entry.last_ns + idle_after || report_due) {
                // The kernel may have counted packets since: its time is the flow's.
                entry.read_kernel(kernel.as_deref(), key, false);
            }
            let reason = match entry.closed_at {
                Some(at) if now_ns >= at + CLOSE_LINGER_NS => Reason::Closed,
                _ if now_ns >= entry.last_ns + idle_after => Reason::Idle,
                None if report_due => Reason::Report,
                _ => continue,
            };
            due.push((entry.start_ns, *key, reason));
        }
        // In the order the flows began, so that a run's output does not depend on hashing.
        due.sort_by_key(|&(start, key, _)| (start, key.low, key.high, key.protocol));
        for (_, key, reason) in due {
            if reason == Reason::Report {
                if let Some(entry) = self.flows.get_mut(&key) {
                    entry.last_report_ns = now_ns;
                    if config.record {
                        emit_record(entry, key.protocol, reason, now_ns, host_name, emit);
                    }
                }
            } else if let Some(mut entry) = self.flows.remove(&key) {
                entry.read_kernel(kernel.as_deref(), &key, true);
                self.stats.idle += u64::from(reason == Reason::Idle);
                self.unanswered_connect(&mut entry, key.protocol, now_ns, host_name, emit);
                if config.record {
                    emit_record(&entry, key.protocol, reason, now_ns, host_name, emit);
                }
            }
        }
    }

    /// Writes the record of every flow still tracked (the capture ended) and empties the
    /// table. Flows whose connection had ended are `closed`, the others `end`.
    pub fn finish(&mut self, now_ns: u64, host_name: &str, emit: &mut Emit<'_>) {
        for query in self.transactions.drain() {
            if self.config.dns_transaction && query.reported {
                emit_transaction(&query, None, now_ns, host_name, emit);
            }
        }
        // In the order they began, as a log of the capture reads best (the keys only are
        // sorted: the entries stay where they are).
        let mut order: Vec<(u64, Key)> = self.flows.iter().map(|(k, e)| (e.start_ns, *k)).collect();
        order.sort_unstable_by_key(|&(start, key)| {
            (start, key.low, key.high, key.protocol, key.netns)
        });
        for (_, key) in order {
            let Some(mut entry) = self.flows.remove(&key) else {
                continue;
            };
            entry.read_kernel(self.kernel.as_deref(), &key, true);
            let at = now_ns.max(entry.last_ns);
            self.unanswered_connect(&mut entry, key.protocol, at, host_name, emit);
            if self.config.record {
                let reason = match entry.closed_at {
                    Some(_) => Reason::Closed,
                    None => Reason::End,
                };
                emit_record(&entry, key.protocol, reason, at, host_name, emit);
            }
        }
        self.flows = HashMap::new();
    }

    /// Reports a TCP connection leaving the table with its SYNs unanswered (idle, or
    /// the capture ended) as timed out, unless its failure was reported.
    fn unanswered_connect(
        &self,
        entry: &mut Tracked,
        protocol: u8,
        now_ns: u64,
        host_name: &str,
        emit: &mut Emit<'_>,
    ) {
        if protocol == ip::TCP
            && entry.syns > 0
            && !entry.answered()
            && self.config.connect_failure
            && !entry.failure_reported
        {
            let failure = Failure {
                cause: Cause::Timeout,
                attempts: entry.attempts(protocol),
                icmp: None,
                error: 0,
            };
            emit_failure(entry, protocol, failure, now_ns, host_name, emit);
        }
    }

    fn new_entry(&self, packet: &Packet<'_>, netns: u64, now_ns: u64) -> Tracked {
        // A SYN+ACK first: its receiver opened the connection (Zeek's `^`).
        let flipped = packet.protocol == ip::TCP
            && packet.tcp_flags & (flag::SYN | flag::ACK) == flag::SYN | flag::ACK;
        let (orig, resp) = if flipped {
            (packet.dst, packet.src)
        } else {
            (packet.src, packet.dst)
        };
        let transport = match packet.protocol {
            ip::TCP => ConnTransport::Tcp,
            ip::UDP => ConnTransport::Udp,
            _ => ConnTransport::Other,
        };
        let (orig_names, _) = self.names.lookup(netns, orig.0, now_ns);
        let (resp_names, dns_rtt_ns) = self.names.lookup(netns, resp.0, now_ns);
        Tracked {
            orig,
            resp,
            start_ns: now_ns,
            last_ns: now_ns,
            last_report_ns: now_ns,
            counts: [Counts::default(); 2],
            kernel_counts: [Counts::default(); 2],
            socket_retransmits: [0; 2],
            kernel_counted: false,
            conn: Conn::new(transport, flipped),
            health: Health::default(),
            community_id: community_id(self.config.community_id_seed, packet.protocol, orig, resp),
            names: [orig_names, resp_names],
            dns_rtt_ns,
            server_name: Vec::new(),
            alpn: Vec::new(),
            http_host: Vec::new(),
            local: [false; 2],
            owners: [None, None],
            payload_seen: false,
            closed_at: None,
            syns: 0,
            failure_reported: false,
        }
    }
}

/// Emits Tracee's `net_flow_tcp_begin`/`_end` for `entry`, with the envelope of the
/// packet that made it due (`ctx`), as Tracee derives them from that packet.
fn emit_tracee(
    entry: &Tracked,
    protocol: u8,
    kind: FlowKind,
    direction: Direction,
    ctx: &EventContext<'_>,
    emit: &mut Emit<'_>,
) {
    let mut flow = entry.view(protocol, Reason::Closed);
    // Relative to the host: an outgoing SYN+ACK answers a connection from outside.
    flow.direction = match (kind, direction) {
        (_, Direction::Unknown) => ConnDirection::Unknown,
        (FlowKind::TcpBegin, Direction::Ingress) => ConnDirection::Outgoing,
        (FlowKind::TcpBegin, _) => ConnDirection::Incoming,
        _ => flow.direction,
    };
    emit(kind, &flow, ctx, None);
}

/// Emits the `net_flow` record of `entry`: the envelope is the originator's owner when it
/// is local, else the responder's; `responder` names the responder's when both are.
fn emit_record(
    entry: &Tracked,
    protocol: u8,
    reason: Reason,
    now_ns: u64,
    host_name: &str,
    emit: &mut Emit<'_>,
) {
    let flow = entry.view(protocol, reason);
    let [orig, resp] = &entry.owners;
    match (orig, resp) {
        (Some(o), Some(r)) => {
            let responder = r.context(now_ns, host_name);
            emit(
                FlowKind::Record,
                &flow,
                &o.context(now_ns, host_name),
                Some(&responder),
            );
        }
        (owner, None) | (None, owner) => {
            let ctx = envelope(owner.as_deref(), now_ns, host_name);
            emit(FlowKind::Record, &flow, &ctx, None);
        }
    }
}

/// The envelope of an event of `owner`'s (none known: the host's alone) at `now_ns`.
fn envelope<'o>(owner: Option<&'o Owner>, now_ns: u64, host_name: &'o str) -> EventContext<'o> {
    match owner {
        Some(owner) => owner.context(now_ns, host_name),
        None => EventContext {
            timestamp: now_ns,
            host_name,
            ..EventContext::default()
        },
    }
}

/// Emits the `net_connect_failure` of `entry` (once), with the originator's envelope;
/// not for a connection from outside to a local socket, which has no local initiator.
fn emit_failure(
    entry: &mut Tracked,
    protocol: u8,
    failure: Failure,
    now_ns: u64,
    host_name: &str,
    emit: &mut Emit<'_>,
) {
    entry.failure_reported = true;
    if entry.opened_from_outside() {
        return;
    }
    let mut flow = entry.view(protocol, Reason::Closed);
    flow.failure = Some(failure);
    let ctx = envelope(entry.owners[0].as_deref(), now_ns, host_name);
    emit(FlowKind::ConnectFailure, &flow, &ctx, None);
}

/// Emits the `net_dns_transaction` of `query`: answered (`answered`) or not, with the
/// envelope of the query's owner.
fn emit_transaction(
    query: &Query,
    answered: Option<&Answered>,
    now_ns: u64,
    host_name: &str,
    emit: &mut Emit<'_>,
) {
    let mut flow = Flow::between(query.protocol, query.client, query.server);
    flow.start_ns = query.sent_ns;
    flow.last_ns = now_ns;
    flow.transaction = Some(DnsTransaction {
        query: &query.name,
        qtype: query.qtype,
        rcode: answered.map(|a| a.rcode),
        answers: answered.map_or(&[][..], |a| &a.answers),
        rtt_ns: answered.map_or(0, |a| a.rtt_ns),
    });
    let ctx = envelope(query.owner.as_deref(), now_ns, host_name);
    emit(FlowKind::DnsTransaction, &flow, &ctx, None);
}

/// Whether `ctx` names an owner: a task, or at least a container.
fn has_owner(ctx: &EventContext<'_>) -> bool {
    ctx.host_thread_id != 0 || !ctx.container_id.is_empty()
}

/// The originator's first payload: a TLS ClientHello's server name and ALPN, or an HTTP
/// request's `Host`.
fn look_into_payload(entry: &mut Tracked, protocol: u8, payload: &[u8]) {
    if protocol != ip::TCP {
        return;
    }
    if let Some(hello) = tls::client_hello(payload) {
        entry.server_name = hello.server_name.unwrap_or_default().to_vec();
        entry.alpn = hello.alpn().map(<[u8]>::to_vec).collect();
    } else if let Some(request) = http::request_start(payload) {
        entry.http_host = request.host().to_vec();
    }
}
