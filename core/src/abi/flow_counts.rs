//! Flow accounting in the kernel (host mode, when only flow and DNS events are selected):
//! the capture programs count each TCP and UDP flow's packets and bytes in a hash map
//! (`FLOW_COUNTS`, keyed by [`FlowCountKey`]) and send user space only the packets its
//! flow events read — the first [`HEAD_PACKETS`] each way (names: a TLS ClientHello, HTTP
//! heads; the handshake; Zeek's history), every SYN, FIN and RST, and all of DNS. User
//! space adds the kernel's [`FlowCounters`] to what it counted itself when it writes a
//! flow's record, and removes the entry when the flow leaves its table.
//!
//! Nothing is lost when the map is full: the packets of a flow without an entry are sent
//! up uncounted ([`super::counter::FLOW_TABLE_FULL`]), and user space counts them.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::HEADERS_LEN;
use crate::{dns, ip, tcp};

/// Packets of each direction of a flow sent to user space whatever their flags.
pub const HEAD_PACKETS: u64 = 4;

/// A flow in one network namespace: its protocol and both endpoints, the lower first
/// (address, then port: the order user space's flow table keys by).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct FlowCountKey {
    /// Network-namespace cookie.
    pub netns_cookie: u64,
    /// The lower endpoint's address: 16 bytes of IPv6, or 4 of IPv4 and zeros.
    pub low_addr: [u8; 16],
    /// The higher endpoint's address, the same way.
    pub high_addr: [u8; 16],
    /// The lower endpoint's port.
    pub low_port: u16,
    /// The higher endpoint's port.
    pub high_port: u16,
    /// [`ip::TCP`] or [`ip::UDP`].
    pub protocol: u8,
    /// 4 or 6.
    pub version: u8,
    /// Explicit padding, always 0.
    pub _pad: [u8; 2],
}

/// What the kernel counted of one flow; index 0 of each pair is the direction from the
/// key's lower endpoint to its higher one.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct FlowCounters {
    /// Packets.
    pub packets: [u64; 2],
    /// Bytes of the IP packets, headers included (as their headers declare them).
    pub ip_bytes: [u64; 2],
    /// Bytes of TCP or UDP payload (as the headers declare them).
    pub payload_bytes: [u64; 2],
    /// The time of the first packet counted: `CLOCK_MONOTONIC_COARSE` (the kernel's tick,
    /// a few ms), ns.
    pub first_ns: u64,
    /// The time of the last packet counted, the same way.
    pub last_ns: u64,
    /// TCP: the sending socket's `total_retrans` (segments it retransmitted), as last
    /// seen on one of its packets; local senders only.
    pub socket_retransmits: [u32; 2],
}

/// One packet as the accounting sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Its flow, `netns_cookie` left 0 for the caller.
    pub key: FlowCountKey,
    /// Which way it went: 0 from the lower endpoint, 1 from the higher.
    pub way: usize,
    /// Bytes of the IP packet, as its header declares.
    pub ip_bytes: u64,
    /// Bytes of TCP or UDP payload, as the headers declare.
    pub payload_bytes: u64,
    /// TCP flags (0 for UDP).
    pub tcp_flags: u8,
}

/// The packet whose first `n` bytes (from its IP header on, at most [`HEADERS_LEN`]) are
/// `data`, when the kernel counts it: TCP or UDP whose header is captured, in
/// unfragmented IPv4 or right after the IPv6 header, not to or from DNS's port (user
/// space reads all of DNS). `None` for every other packet: it is sent up uncounted.
///
/// Written for the eBPF verifier too: every index is a constant or masked below 128.
#[inline(always)]
pub fn observe(data: &[u8; HEADERS_LEN], n: usize) -> Option<Observed> {
    let (version, protocol, at, ip_bytes, ip_header) = match data[0] >> 4 {
        4 if n >= 20 && (data[6] & 0x3f) | data[7] == 0 => {
            let header = (data[0] & 0x0f) as u64 * 4;
            (
                4,
                data[9],
                header as usize & 0x3c,
                u64::from(be16(data, 2)),
                header,
            )
        }
        6 if n >= 40 => (6, data[6], 40, u64::from(be16(data, 4)) + 40, 40),
        _ => return None,
    };
    let header_end = match protocol {
        ip::TCP => at + 14,
        ip::UDP => at + 8,
        _ => return None,
    };
    if at < 20 || header_end > n {
        return None;
    }
    let (src_port, dst_port) = (be16(data, at), be16(data, at + 2));
    if src_port == dns::PORT || dst_port == dns::PORT {
        return None;
    }
    let ip_payload = ip_bytes.saturating_sub(ip_header);
    let (payload_bytes, tcp_flags) = match protocol {
        ip::TCP => {
            let offset = u64::from(data[(at + 12) & 0x7f] >> 4) * 4;
            (ip_payload.saturating_sub(offset), data[(at + 13) & 0x7f])
        }
        _ => (u64::from(be16(data, at + 4)).saturating_sub(8), 0),
    };
    let (src, dst) = match version {
        4 => (address_v4(data, 12), address_v4(data, 16)),
        _ => (address_v6(data, 8), address_v6(data, 24)),
    };
    let way = usize::from((dst, dst_port) < (src, src_port));
    let ((low, low_port), (high, high_port)) = match way {
        0 => ((src, src_port), (dst, dst_port)),
        _ => ((dst, dst_port), (src, src_port)),
    };
    Some(Observed {
        key: FlowCountKey {
            netns_cookie: 0,
            low_addr: bytes_of(low),
            high_addr: bytes_of(high),
            low_port,
            high_port,
            protocol,
            version,
            _pad: [0; 2],
        },
        way,
        ip_bytes,
        payload_bytes,
        tcp_flags,
    })
}

/// Whether the kernel sends up a counted packet with `tcp_flags`, the `nth` (from 1) its
/// direction of the flow counted: the first [`HEAD_PACKETS`], and every SYN, FIN or RST.
#[inline(always)]
pub fn sends_up(tcp_flags: u8, nth: u64) -> bool {
    nth <= HEAD_PACKETS || tcp_flags & (tcp::flag::SYN | tcp::flag::FIN | tcp::flag::RST) != 0
}

/// An address as two big-endian words, which compare as the addresses do.
type Address = (u64, u64);

#[inline(always)]
fn be16(data: &[u8; HEADERS_LEN], at: usize) -> u16 {
    u16::from_be_bytes([data[at & 0x7f], data[(at + 1) & 0x7f]])
}

#[inline(always)]
fn be64(data: &[u8; HEADERS_LEN], at: usize) -> u64 {
    u64::from(be32(data, at)) << 32 | u64::from(be32(data, at + 4))
}

#[inline(always)]
fn be32(data: &[u8; HEADERS_LEN], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

#[inline(always)]
fn address_v4(data: &[u8; HEADERS_LEN], at: usize) -> Address {
    (u64::from(be32(data, at)) << 32, 0)
}

#[inline(always)]
fn address_v6(data: &[u8; HEADERS_LEN], at: usize) -> Address {
    (be64(data, at), be64(data, at + 8))
}

#[inline(always)]
fn bytes_of((high, low): Address) -> [u8; 16] {
    let (a, b) = (high.to_be_bytes(), low.to_be_bytes());
    [
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1], b[2], b[3], b[4], b[5], b[6],
        b[7],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 packet's head: 20-byte IP header, then `transport`.
    fn ipv4(
        protocol: u8,
        src: [u8; 4],
        dst: [u8; 4],
        total: u16,
        transport: &[u8],
    ) -> [u8; HEADERS_LEN] {
        let mut data = [0u8; HEADERS_LEN];
        data[0] = 0x45;
        data[2..4].copy_from_slice(&total.to_be_bytes());
        data[9] = protocol;
        data[12..16].copy_from_slice(&src);
        data[16..20].copy_from_slice(&dst);
        data[20..20 + transport.len()].copy_from_slice(transport);
        data
    }

    fn udp(src: u16, dst: u16, length: u16) -> [u8; 8] {
        let (s, d, l) = (src.to_be_bytes(), dst.to_be_bytes(), length.to_be_bytes());
        [s[0], s[1], d[0], d[1], l[0], l[1], 0, 0]
    }

    #[test]
    fn both_directions_of_a_udp_flow_share_a_key() {
        let out = ipv4(
            ip::UDP,
            [10, 0, 0, 2],
            [10, 0, 0, 1],
            128,
            &udp(40000, 9000, 108),
        );
        let back = ipv4(
            ip::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            60,
            &udp(9000, 40000, 40),
        );
        let (out, back) = (observe(&out, 28).unwrap(), observe(&back, 28).unwrap());
        assert_eq!(out.key, back.key);
        assert_eq!((out.way, back.way), (1, 0), "10.0.0.1 is the lower end");
        assert_eq!(out.key.low_addr[..4], [10, 0, 0, 1]);
        assert_eq!((out.key.low_port, out.key.high_port), (9000, 40000));
        assert_eq!((out.ip_bytes, out.payload_bytes), (128, 100));
        assert_eq!((back.ip_bytes, back.payload_bytes), (60, 32));
    }

    #[test]
    fn one_address_orders_by_port() {
        let a = ipv4(
            ip::UDP,
            [127, 0, 0, 1],
            [127, 0, 0, 1],
            28,
            &udp(5000, 4000, 8),
        );
        let seen = observe(&a, 28).unwrap();
        assert_eq!((seen.way, seen.key.low_port), (1, 4000));
    }

    #[test]
    fn tcp_payload_is_what_the_headers_leave() {
        // A 32-byte TCP header (data offset 8) with SYN|ACK, in a 100-byte packet.
        let mut tcp = [0u8; 14];
        tcp[12] = 8 << 4;
        tcp[13] = tcp::flag::SYN | tcp::flag::ACK;
        let packet = ipv4(ip::TCP, [10, 0, 0, 1], [10, 0, 0, 2], 100, &tcp);
        let seen = observe(&packet, 40).unwrap();
        assert_eq!(
            (seen.payload_bytes, seen.tcp_flags),
            (48, tcp::flag::SYN | tcp::flag::ACK)
        );
        assert!(observe(&packet, 33).is_none(), "the flags are not captured");
    }

    #[test]
    fn dns_fragments_and_other_protocols_are_not_counted() {
        let dns = ipv4(
            ip::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            40,
            &udp(40000, 53, 20),
        );
        assert!(observe(&dns, 40).is_none());
        let mut fragment = ipv4(ip::UDP, [10, 0, 0, 1], [10, 0, 0, 2], 40, &udp(1, 2, 20));
        fragment[6] = 0x20; // More fragments.
        assert!(observe(&fragment, 40).is_none());
        let icmp = ipv4(
            ip::ICMP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            28,
            &[8, 0, 0, 0, 0, 1, 0, 1],
        );
        assert!(observe(&icmp, 28).is_none());
    }

    #[test]
    fn ipv6_addresses_compare_as_numbers() {
        let mut data = [0u8; HEADERS_LEN];
        data[0] = 0x60;
        data[4..6].copy_from_slice(&16u16.to_be_bytes());
        data[6] = ip::UDP;
        data[8] = 0xfe; // fe00:: → 2001:db8::1
        data[24..28].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        data[39] = 1;
        data[40..48].copy_from_slice(&udp(1234, 443, 16));
        let seen = observe(&data, 48).unwrap();
        assert_eq!(
            (
                seen.way,
                seen.key.version,
                seen.ip_bytes,
                seen.payload_bytes
            ),
            (1, 6, 56, 8)
        );
        assert_eq!(seen.key.low_addr[..4], [0x20, 0x01, 0x0d, 0xb8]);
    }

    #[test]
    fn the_head_and_the_flags_go_up() {
        assert!(sends_up(0, 1) && sends_up(0, HEAD_PACKETS));
        assert!(!sends_up(tcp::flag::ACK | tcp::flag::PSH, HEAD_PACKETS + 1));
        assert!(sends_up(tcp::flag::FIN | tcp::flag::ACK, 1000));
        assert!(sends_up(tcp::flag::RST, 1000));
    }
}
