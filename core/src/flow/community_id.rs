//! Community ID v1 (<https://github.com/corelight/community-id-spec>): the flow hash Zeek,
//! Suricata, Wireshark and many SIEMs share, so that one connection has one id in all of
//! them: `1:` and the base64 of SHA-1 over the seed, both endpoints in a canonical order,
//! the protocol and the ports (ICMP: type and code, or the type's counterpart).

use base64::Engine;
use core::net::IpAddr;
use sha1::{Digest, Sha1};

use crate::ip;

/// Length of a Community ID v1 string: `1:` and 28 base64 characters.
pub const LEN: usize = 30;

/// A Community ID, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommunityId([u8; LEN]);

impl CommunityId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is written into it.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// ICMP types with a counterpart (request ↔ reply): a flow of the pair hashes as if the
/// counterpart type were its destination port.
const ICMP_PAIRS: [(u8, u8); 5] = [(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)];
/// The same for ICMPv6 (echo, MLD, router and neighbor discovery, node information,
/// home-agent discovery).
const ICMPV6_PAIRS: [(u8, u8); 6] = [
    (128, 129),
    (130, 131),
    (133, 134),
    (135, 136),
    (139, 140),
    (144, 145),
];

/// The counterpart of ICMP (`protocol` [`ip::ICMP`]) or ICMPv6 message type `kind`: the
/// reply to a request, the request of a reply; `None` for one-way types.
pub fn icmp_counterpart(protocol: u8, kind: u8) -> Option<u8> {
    let (request, reply) = icmp_pair(protocol, kind)?;
    Some(if kind == request { reply } else { request })
}

/// The request and reply types of the ICMP or ICMPv6 exchange message type `kind` belongs
/// to; `None` for one-way types.
pub fn icmp_pair(protocol: u8, kind: u8) -> Option<(u8, u8)> {
    let pairs: &[(u8, u8)] = match protocol {
        ip::ICMP => &ICMP_PAIRS,
        ip::ICMPV6 => &ICMPV6_PAIRS,
        _ => return None,
    };
    pairs
        .iter()
        .copied()
        .find(|&(request, reply)| kind == request || kind == reply)
}

/// The Community ID of the flow from `src`:`src_port` to `dst`:`dst_port` over
/// `protocol`, with `seed`. For ICMP and ICMPv6 the ports are the packet's type and code.
/// `None` when the addresses are not of one family.
pub fn community_id(
    seed: u16,
    protocol: u8,
    (src, src_port): (IpAddr, u16),
    (dst, dst_port): (IpAddr, u16),
) -> Option<CommunityId> {
    let (src_port, dst_port, one_way) = match protocol {
        ip::ICMP | ip::ICMPV6 => {
            let (kind, code) = (src_port as u8, dst_port as u8);
            match icmp_counterpart(protocol, kind) {
                Some(other) => (u16::from(kind), u16::from(other), false),
                None => (u16::from(kind), u16::from(code), true),
            }
        }
        _ => (src_port, dst_port, false),
    };
    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    let ordered = one_way || (src, src_port) < (dst, dst_port);
    let ((a, a_port), (b, b_port)) = if ordered {
        ((src, src_port), (dst, dst_port))
    } else {
        ((dst, dst_port), (src, src_port))
    };
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            hasher.update(a.octets());
            hasher.update(b.octets());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            hasher.update(a.octets());
            hasher.update(b.octets());
        }
        _ => return None,
    }
    hasher.update([protocol, 0]);
    if matches!(
        protocol,
        ip::TCP | ip::UDP | ip::ICMP | ip::ICMPV6 | ip::SCTP
    ) {
        hasher.update(a_port.to_be_bytes());
        hasher.update(b_port.to_be_bytes());
    }
    let digest = hasher.finalize();
    let mut text = [0u8; LEN];
    text[..2].copy_from_slice(b"1:");
    base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut text[2..])
        .ok()?;
    Some(CommunityId(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    fn id(seed: u16, protocol: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) -> &'static str {
        let id = community_id(seed, protocol, src, dst).unwrap();
        alloc::string::String::from(id.as_str()).leak()
    }

    #[test]
    fn the_specifications_example() {
        // The spec's README example; the same id both ways.
        let (a, b) = (v4([128, 232, 110, 120]), v4([66, 35, 250, 204]));
        let forward = id(0, ip::TCP, (a, 34855), (b, 80));
        assert_eq!(forward, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(id(0, ip::TCP, (b, 80), (a, 34855)), forward);
        assert_ne!(
            id(1, ip::TCP, (a, 34855), (b, 80)),
            forward,
            "the seed counts"
        );
        // tests/tshark_differential.rs checks every flow of the test captures against
        // Wireshark's implementation.
    }

    #[test]
    fn icmp_pairs_share_an_id_and_one_way_types_keep_their_order() {
        let (e, f) = (v4([192, 168, 0, 89]), v4([192, 168, 0, 1]));
        let request = id(0, ip::ICMP, (e, 8), (f, 0));
        assert_eq!(id(0, ip::ICMP, (f, 0), (e, 0)), request, "echo reply");
        // Destination unreachable has no counterpart: the two directions differ.
        assert_ne!(
            id(0, ip::ICMP, (e, 3), (f, 3)),
            id(0, ip::ICMP, (f, 3), (e, 3))
        );
        let a = IpAddr::V6(Ipv6Addr::new(
            0xfe80, 0, 0, 0, 0x200, 0x86ff, 0xfe05, 0x80da,
        ));
        let b = IpAddr::V6(Ipv6Addr::new(
            0xfe80, 0, 0, 0, 0x260, 0x97ff, 0xfe07, 0x69ea,
        ));
        let solicit = id(0, ip::ICMPV6, (a, 135), (b, 0));
        assert_eq!(
            id(0, ip::ICMPV6, (b, 136), (a, 0)),
            solicit,
            "neighbor advert"
        );
        assert_eq!(
            community_id(0, ip::TCP, (a, 1), (v4([1, 2, 3, 4]), 2)),
            None
        );
    }
}
