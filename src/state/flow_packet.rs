//! What the flow table reads of a decoded packet ([`Packet`]) and the key it files the
//! packet's flow under ([`Key`]).

use std::net::IpAddr;

use netcore_core::abi::flow_counts::FlowCountKey;
use netcore_core::flow::community_id::icmp_pair;
use netcore_core::flow::health::Segment;
use netcore_core::ip;
use netcore_core::packet::{Decoded, Network, Transport};

/// A flow's key: the protocol and both endpoints, the lower first, in one network
/// namespace. ICMP flows are keyed by the address pair alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) netns: u64,
    pub(super) protocol: u8,
    pub(super) low: (IpAddr, u16),
    pub(super) high: (IpAddr, u16),
}

impl Key {
    /// The key the capture programs count this flow under (host mode's flow accounting),
    /// for TCP and UDP.
    pub(super) fn kernel_key(&self) -> Option<FlowCountKey> {
        if self.protocol != ip::TCP && self.protocol != ip::UDP {
            return None;
        }
        let (low_addr, version) = address_bytes(self.low.0);
        let (high_addr, _) = address_bytes(self.high.0);
        Some(FlowCountKey {
            netns_cookie: self.netns,
            low_addr,
            high_addr,
            low_port: self.low.1,
            high_port: self.high.1,
            protocol: self.protocol,
            version,
            _pad: [0; 2],
        })
    }

    /// The key of a TCP or UDP flow of `protocol` between endpoints `a` and `b`.
    pub(super) fn between(netns: u64, protocol: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> Key {
        Key {
            netns,
            protocol,
            low: a.min(b),
            high: a.max(b),
        }
    }
}

/// An address as the capture programs' flow keys hold it, and its IP version.
fn address_bytes(address: IpAddr) -> ([u8; 16], u8) {
    match address {
        IpAddr::V4(v4) => {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            (bytes, 4)
        }
        IpAddr::V6(v6) => (v6.octets(), 6),
    }
}

/// What the flow table reads of a packet.
pub(super) struct Packet<'a> {
    pub(super) protocol: u8,
    pub(super) src: (IpAddr, u16),
    pub(super) dst: (IpAddr, u16),
    pub(super) ip_bytes: u64,
    pub(super) payload_bytes: u64,
    pub(super) tcp_flags: u8,
    pub(super) payload: &'a [u8],
    /// TCP: what the health analysis reads (its time filled in by the table).
    pub(super) segment: Option<Segment>,
}

impl<'a> Packet<'a> {
    /// The flow-relevant parts of `decoded`: TCP, UDP, ICMP and ICMPv6 only.
    pub(super) fn of(decoded: &Decoded<'a>) -> Option<Packet<'a>> {
        let network = decoded.network?;
        let (ip_bytes, ip_payload) = match network {
            Network::Ipv4(v4) => {
                let total = u64::from(v4.total_len());
                (total, total.saturating_sub(u64::from(v4.ihl()) * 4))
            }
            Network::Ipv6(v6) => {
                let payload = u64::from(v6.payload_len());
                (payload + 40, payload)
            }
        };
        let mut segment = None;
        let (protocol, ports, payload_bytes, tcp_flags, payload) = match decoded.transport? {
            Transport::Tcp(t) => {
                let declared = ip_payload.saturating_sub(u64::from(t.data_offset()) * 4);
                let bytes = declared.max(t.payload().len() as u64);
                segment = Some(Segment {
                    seq: t.seq(),
                    ack: t.ack(),
                    // As Wireshark's `tcp.len`: from the IP header, not the bytes captured.
                    len: u32::try_from(declared).unwrap_or(u32::MAX),
                    flags: t.flags(),
                    window: t.window(),
                    time_ns: 0,
                });
                (
                    ip::TCP,
                    (t.src_port(), t.dst_port()),
                    bytes,
                    t.flags(),
                    t.payload(),
                )
            }
            Transport::Udp(u) => {
                let bytes = u64::from(u.length()).saturating_sub(8);
                (ip::UDP, (u.src_port(), u.dst_port()), bytes, 0, u.payload())
            }
            Transport::Icmp(i) => {
                let ports = (u16::from(i.icmp_type()), u16::from(i.code()));
                (ip::ICMP, ports, ip_payload.saturating_sub(8), 0, &[][..])
            }
            Transport::Icmpv6(i) => {
                let ports = (u16::from(i.icmp_type()), u16::from(i.code()));
                (ip::ICMPV6, ports, ip_payload.saturating_sub(8), 0, &[][..])
            }
        };
        Some(Packet {
            protocol,
            src: (network.src(), ports.0),
            dst: (network.dst(), ports.1),
            ip_bytes,
            payload_bytes,
            tcp_flags,
            payload,
            segment,
        })
    }

    /// The flow's key. An ICMP request and its reply are one flow, keyed by the asking
    /// address with the request type and the answering one with the reply type (as the
    /// Community ID pairs them: exchanges started from either side are two flows); a
    /// one-way message type (unreachable, …) by the address pair, its type and code.
    pub(super) fn key(&self, netns: u64) -> Key {
        if !self.is_icmp() {
            return Key::between(netns, self.protocol, self.src, self.dst);
        }
        let (kind, code) = (self.src.1 as u8, self.dst.1 as u8);
        let (low, high) = match icmp_pair(self.protocol, kind) {
            Some((request, reply)) => {
                let (asker, answerer) = match kind == request {
                    true => (self.src.0, self.dst.0),
                    false => (self.dst.0, self.src.0),
                };
                let ends = ((asker, u16::from(request)), (answerer, u16::from(reply)));
                (ends.0.min(ends.1), ends.0.max(ends.1))
            }
            None => {
                let (ip_low, ip_high) = (self.src.0.min(self.dst.0), self.src.0.max(self.dst.0));
                ((ip_low, u16::from(kind)), (ip_high, u16::from(code)))
            }
        };
        Key {
            netns,
            protocol: self.protocol,
            low,
            high,
        }
    }

    pub(super) fn is_icmp(&self) -> bool {
        self.protocol == ip::ICMP || self.protocol == ip::ICMPV6
    }
}
