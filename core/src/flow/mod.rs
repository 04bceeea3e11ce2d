//! Flows: what a connection's packets add up to, and the events that report it —
//! netcore's `net_flow` record (Zeek `conn.log` semantics where they overlap) and
//! Tracee's `net_flow_tcp_begin` / `net_flow_tcp_end`. The table that tracks flows lives
//! with the rest of the state in the binary; this module holds what is pure: the
//! connection state machine ([`conn`]), the Community ID ([`community_id`]), the
//! connection's health as Wireshark's TCP analysis measures it ([`health`]), failed
//! connections ([`failure`]), and the records the encoders write ([`Flow`]).

pub mod community_id;
pub mod conn;
pub mod failure;
pub mod health;
pub mod spread;

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

pub use crate::dns::{Rcode, RecordType};
pub use crate::event::FlowKind;
pub use failure::{Cause, Failure};
pub use health::HealthCounts;

/// Why a `net_flow` record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The connection ended (FIN both ways, or a RST).
    Closed,
    /// Nothing was seen for the protocol's idle timeout.
    Idle,
    /// A periodic report of a flow still open (`--flow-report`).
    Report,
    /// The capture ended (end of file, or netcore stopping).
    End,
}

impl Reason {
    /// The name the record carries.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Closed => "closed",
            Reason::Idle => "idle",
            Reason::Report => "report",
            Reason::End => "end",
        }
    }
}

/// Which way a connection goes, relative to the host: Tracee's `conn_direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnDirection {
    /// Opened by a local socket.
    Outgoing,
    /// Opened by a peer, accepted by a local socket.
    Incoming,
    /// Not known (a capture file without direction information).
    Unknown,
}

impl ConnDirection {
    /// Tracee's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ConnDirection::Outgoing => "outgoing",
            ConnDirection::Incoming => "incoming",
            ConnDirection::Unknown => "unknown",
        }
    }
}

/// What one side of a flow sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Packets.
    pub packets: u64,
    /// Bytes of the IP packets (headers included).
    pub ip_bytes: u64,
    /// Bytes of transport payload.
    pub bytes: u64,
}

impl Counts {
    /// Adds one packet of `ip_bytes` carrying `bytes` of payload.
    pub fn add_packet(&mut self, ip_bytes: u64, bytes: u64) {
        self.packets += 1;
        self.ip_bytes += ip_bytes;
        self.bytes += bytes;
    }
}

impl core::ops::Add for Counts {
    type Output = Counts;

    fn add(self, other: Counts) -> Counts {
        Counts {
            packets: self.packets + other.packets,
            ip_bytes: self.ip_bytes + other.ip_bytes,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// A flow as its events report it; `orig` opened it (sent its first packet, or its SYN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow<'a> {
    /// IP protocol number.
    pub protocol: u8,
    /// The originator's address and port (ICMP: the first packet's type).
    pub orig: (IpAddr, u16),
    /// The responder's address and port (ICMP: the first packet's code).
    pub resp: (IpAddr, u16),
    /// The first packet's time, ns since the Unix epoch.
    pub start_ns: u64,
    /// The last packet's time, ns since the Unix epoch.
    pub last_ns: u64,
    /// What the originator sent.
    pub orig_counts: Counts,
    /// What the responder sent.
    pub resp_counts: Counts,
    /// Zeek's `conn_state`.
    pub conn_state: &'a str,
    /// Zeek's `history`.
    pub history: &'a str,
    /// TCP: Wireshark's `tcp.analysis.initial_rtt`, ns; 0 when the handshake was not seen.
    pub initial_rtt_ns: u64,
    /// The round trip of the DNS lookup that named the responder's address (query to
    /// answer, ns); 0 when no lookup seen gave it.
    pub dns_rtt_ns: u64,
    /// TCP: what the originator sent that Wireshark's analysis marks.
    pub orig_health: HealthCounts,
    /// TCP: what the responder sent that it marks.
    pub resp_health: HealthCounts,
    /// Community ID v1, "" when it could not be computed.
    pub community_id: &'a str,
    /// Names that resolved to the originator's address (DNS answers seen).
    pub orig_names: &'a [String],
    /// Names that resolved to the responder's address.
    pub resp_names: &'a [String],
    /// The TLS ClientHello's server name, "" when none was seen.
    pub server_name: &'a [u8],
    /// The ALPN protocols the TLS client offered.
    pub alpn: &'a [Vec<u8>],
    /// The HTTP request's `Host`, "" when none was seen.
    pub http_host: &'a [u8],
    /// Relative to the host.
    pub direction: ConnDirection,
    /// Why the record is written.
    pub reason: Reason,
    /// `net_connect_failure`: why the connection failed.
    pub failure: Option<Failure>,
    /// `net_dns_transaction`: the query and what became of it (the flow is the
    /// query's: client to server).
    pub transaction: Option<DnsTransaction<'a>>,
}

/// A DNS query and what became of it: `net_dns_transaction`'s arguments beyond the
/// endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsTransaction<'a> {
    /// The question's name, presentation format without the final dot (the root: `.`).
    pub query: &'a str,
    /// The question's type.
    pub qtype: RecordType,
    /// The response's code; `None` when no response came.
    pub rcode: Option<Rcode>,
    /// The answer section's data, as presentation text.
    pub answers: &'a [String],
    /// Query to response, ns; 0 when unanswered.
    pub rtt_ns: u64,
}

impl DnsTransaction<'_> {
    /// The response code's mnemonic (`NOERROR`, `NXDOMAIN`, …; `unknown` for a code
    /// without one), "" when unanswered.
    pub fn rcode_name(&self) -> &'static str {
        self.rcode.map_or("", |r| r.mnemonic().unwrap_or("unknown"))
    }

    /// `answered` or `unanswered`.
    pub fn outcome(&self) -> &'static str {
        match self.rcode {
            Some(_) => "answered",
            None => "unanswered",
        }
    }
}

impl Flow<'_> {
    /// A flow of `protocol` from `orig` to `resp` with nothing counted yet: the view the
    /// events that report one exchange (`net_dns_transaction`) start from.
    pub fn between(protocol: u8, orig: (IpAddr, u16), resp: (IpAddr, u16)) -> Self {
        Flow {
            protocol,
            orig,
            resp,
            start_ns: 0,
            last_ns: 0,
            orig_counts: Counts::default(),
            resp_counts: Counts::default(),
            conn_state: "",
            history: "",
            initial_rtt_ns: 0,
            dns_rtt_ns: 0,
            orig_health: HealthCounts::default(),
            resp_health: HealthCounts::default(),
            community_id: "",
            orig_names: &[],
            resp_names: &[],
            server_name: b"",
            alpn: &[],
            http_host: b"",
            direction: ConnDirection::Unknown,
            reason: Reason::End,
            failure: None,
            transaction: None,
        }
    }

    /// How long the flow has lasted, ns.
    pub fn duration_ns(&self) -> u64 {
        self.last_ns.saturating_sub(self.start_ns)
    }
}

/// A key shared by every event of one flow — its packets' events, the DNS and HTTP they
/// carry, its records: FNV-1a over the protocol and both endpoints, the lower first (ICMP
/// flows by their addresses alone). Outputs that partition (Kafka) keep a flow's events
/// in one partition, hence in order, with it.
pub fn partition_key(protocol: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> u64 {
    let (mut low, mut high) = (a.min(b), a.max(b));
    if protocol == crate::ip::ICMP || protocol == crate::ip::ICMPV6 {
        (low.1, high.1) = (0, 0);
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut add = |bytes: &[u8]| {
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    add(&[protocol]);
    for (address, port) in [low, high] {
        let octets = match address {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        add(&octets);
        add(&port.to_be_bytes());
    }
    hash
}

/// The [`partition_key`] of a decoded packet's flow; 0 for a packet without IP.
pub fn partition_key_of(decoded: &crate::packet::Decoded<'_>) -> u64 {
    use crate::packet::Transport;
    let Some(network) = decoded.network else {
        return 0;
    };
    let (protocol, ports) = match decoded.transport {
        Some(Transport::Tcp(t)) => (crate::ip::TCP, (t.src_port(), t.dst_port())),
        Some(Transport::Udp(u)) => (crate::ip::UDP, (u.src_port(), u.dst_port())),
        Some(Transport::Icmp(_)) => (crate::ip::ICMP, (0, 0)),
        Some(Transport::Icmpv6(_)) => (crate::ip::ICMPV6, (0, 0)),
        None => (0, (0, 0)),
    };
    partition_key(protocol, (network.src(), ports.0), (network.dst(), ports.1))
}

/// The [`partition_key`] of a flow's record.
pub fn partition_key_of_flow(flow: &Flow<'_>) -> u64 {
    partition_key(flow.protocol, flow.orig, flow.resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn both_directions_and_the_record_share_a_partition_key() {
        let a = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
        let b = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443);
        let key = partition_key(crate::ip::TCP, a, b);
        assert_eq!(key, partition_key(crate::ip::TCP, b, a));
        assert_ne!(key, partition_key(crate::ip::UDP, a, b));
        assert_ne!(key, partition_key(crate::ip::TCP, a, (b.0, 444)));
        // ICMP: the addresses alone (a request's type and its reply's differ).
        let icmp = |t| partition_key(crate::ip::ICMP, (a.0, t), (b.0, 0));
        assert_eq!(icmp(8), icmp(0));
    }
}
