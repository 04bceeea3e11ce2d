//! Encapsulations: the packet inside a decoded packet, when there is one. Each function
//! here finds where the inner frame starts and how it is framed; [`crate::decode`] then
//! decodes it like any other frame. MPLS label stacks and PPPoE sessions sit below IP and
//! are stripped by [`crate::link`].
//!
//! | encapsulation | carried in | inner framing |
//! |---|---|---|
//! | VXLAN (RFC 7348) | UDP port 4789 | Ethernet |
//! | VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe) | UDP port 4790 | IPv4, IPv6, Ethernet, NSH or MPLS by its next protocol |
//! | Geneve (RFC 8926) | UDP port 6081 | Ethernet, or IP by its protocol type |
//! | GRE (RFC 2784/2890) | IP protocol 47 | IPv4, IPv6, Ethernet (transparent bridging), IPv4 after a WCCP redirect header (0x883E), what a Cisco MetaData header (0x8909, the SGT tag) names |
//! | ERSPAN types I, II, III | GRE 0x88BE / 0x22EB | Ethernet |
//! | IP-in-IP, IPv6-in-IP (RFC 2003/4213) | IP protocol 4 / 41 | IPv4 / IPv6 |
//! | Ethernet in IP (SRv6's L2 services, RFC 8986) | IP protocol 143 | Ethernet |
//! | Teredo (RFC 4380) | UDP port 3544 | IPv6 (after any indicators) |
//! | MPLS over UDP (RFC 7510) | UDP port 6635 | an MPLS label stack, then IPv4 or IPv6 |

use crate::ipv6;
use crate::link::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS, LinkType, strip_mpls, strip_nsh,
};
use crate::packet::{Decoded, Network, Transport};

/// UDP port of VXLAN.
pub const VXLAN_PORT: u16 = 4789;
/// UDP port of VXLAN-GPE.
pub const VXLAN_GPE_PORT: u16 = 4790;
/// UDP port of Geneve.
pub const GENEVE_PORT: u16 = 6081;
/// UDP port of Teredo.
pub const TEREDO_PORT: u16 = 3544;
/// UDP port of MPLS over UDP.
pub const MPLS_UDP_PORT: u16 = 6635;
/// IP protocol number of GRE.
pub const GRE: u8 = 47;
/// IP protocol number of IPv4 encapsulated in IP.
pub const IPIP: u8 = 4;
/// IP protocol number of IPv6 encapsulated in IP.
pub const IPV6_IN_IP: u8 = 41;
/// IP protocol number of Ethernet encapsulated in IP (SRv6's L2 services).
pub const ETHERNET_IN_IP: u8 = 143;
/// EtherType (GRE protocol type) of transparent Ethernet bridging.
const TRANSPARENT_ETHERNET: u16 = 0x6558;
/// GRE protocol type of ERSPAN types I and II.
const ERSPAN_II: u16 = 0x88be;
/// GRE protocol type of ERSPAN type III.
const ERSPAN_III: u16 = 0x22eb;
/// GRE protocol type of a WCCP redirect.
const WCCP: u16 = 0x883e;
/// GRE protocol type of Cisco MetaData (TrustSec's security group tag).
const CISCO_METADATA: u16 = 0x8909;

/// How the inner packet was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulation {
    /// VXLAN over UDP.
    Vxlan,
    /// VXLAN-GPE over UDP.
    VxlanGpe,
    /// Geneve over UDP.
    Geneve,
    /// GRE (ERSPAN included).
    Gre,
    /// IPv4, IPv6 or Ethernet directly in IP.
    IpInIp,
    /// Teredo: IPv6 over UDP.
    Teredo,
    /// An MPLS label stack over UDP.
    MplsOverUdp,
}

/// The packet carried inside another.
#[derive(Debug, Clone, Copy)]
pub struct Inner<'a> {
    /// How it was carried.
    pub encapsulation: Encapsulation,
    /// Its framing.
    pub link_type: LinkType,
    /// Its bytes, as captured.
    pub frame: &'a [u8],
}

/// The packet `decoded` carries, if it is an encapsulation this module knows and the
/// encapsulation header is whole.
pub fn inner<'a>(decoded: &Decoded<'a>) -> Option<Inner<'a>> {
    if let Some(Transport::Udp(udp)) = decoded.transport {
        let ports = (udp.src_port(), udp.dst_port());
        let payload = udp.payload();
        return if ports.1 == VXLAN_PORT {
            vxlan(payload)
        } else if ports.1 == VXLAN_GPE_PORT {
            vxlan_gpe(payload)
        } else if ports.1 == GENEVE_PORT {
            geneve(payload)
        } else if ports.0 == TEREDO_PORT || ports.1 == TEREDO_PORT {
            teredo(payload)
        } else if ports.1 == MPLS_UDP_PORT {
            mpls_over_udp(payload)
        } else {
            None
        };
    }
    if decoded.transport.is_some() {
        return None;
    }
    let (protocol, payload) = match decoded.network? {
        Network::Ipv4(v4) if !v4.is_later_fragment() => (v4.protocol(), v4.payload()),
        Network::Ipv6(v6) => match v6.upper_layer() {
            Ok(upper) if !upper.later_fragment => (upper.protocol, upper.payload),
            _ => return None,
        },
        Network::Ipv4(_) => return None,
    };
    let ip_in_ip = |link_type| {
        Some(Inner {
            encapsulation: Encapsulation::IpInIp,
            link_type,
            frame: payload,
        })
    };
    match protocol {
        IPIP => ip_in_ip(LinkType::Ipv4),
        IPV6_IN_IP => ip_in_ip(LinkType::Ipv6),
        ETHERNET_IN_IP => ip_in_ip(LinkType::Ethernet),
        GRE => gre(payload),
        _ => None,
    }
}

fn carried(encapsulation: Encapsulation, link_type: LinkType, frame: &[u8]) -> Option<Inner<'_>> {
    Some(Inner {
        encapsulation,
        link_type,
        frame,
    })
}

/// The link type for an EtherType that carries a whole packet.
fn by_ethertype(ethertype: u16) -> Option<LinkType> {
    match ethertype {
        ETHERTYPE_IPV4 => Some(LinkType::Ipv4),
        ETHERTYPE_IPV6 => Some(LinkType::Ipv6),
        TRANSPARENT_ETHERNET => Some(LinkType::Ethernet),
        _ => None,
    }
}

/// The IP packet behind `ethertype`'s header, an MPLS label stack stripped first.
fn ip_packet(encapsulation: Encapsulation, ethertype: u16, packet: &[u8]) -> Option<Inner<'_>> {
    let (ethertype, packet) = match ethertype {
        ETHERTYPE_MPLS => strip_mpls(packet).ok()?,
        _ => (ethertype, packet),
    };
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => carried(encapsulation, by_ethertype(ethertype)?, packet),
        _ => None,
    }
}

/// MPLS over UDP: a label stack (at most the link layer's bound), then the IP packet its
/// version nibble names.
fn mpls_over_udp(payload: &[u8]) -> Option<Inner<'_>> {
    ip_packet(Encapsulation::MplsOverUdp, ETHERTYPE_MPLS, payload)
}

/// VXLAN-GPE: an 8-byte header whose next protocol (byte 3, valid with the P flag; without
/// it the frame is Ethernet, as in VXLAN) names IPv4, IPv6, Ethernet, an NSH or MPLS.
fn vxlan_gpe(payload: &[u8]) -> Option<Inner<'_>> {
    let (header, rest) = payload.split_at_checked(8)?;
    let gpe = Encapsulation::VxlanGpe;
    match (header[0] & 0x04 != 0, header[3]) {
        (false, _) | (true, 3) => carried(gpe, LinkType::Ethernet, rest),
        (true, 1) => carried(gpe, LinkType::Ipv4, rest),
        (true, 2) => carried(gpe, LinkType::Ipv6, rest),
        (true, 4) => {
            let (ethertype, packet) = strip_nsh(rest).ok()?;
            ip_packet(gpe, ethertype, packet)
        }
        (true, 5) => ip_packet(gpe, ETHERTYPE_MPLS, rest),
        _ => None,
    }
}

/// VXLAN: an 8-byte header whose I flag says the VNI is valid, then Ethernet.
fn vxlan(payload: &[u8]) -> Option<Inner<'_>> {
    let (header, frame) = payload.split_at_checked(8)?;
    (header[0] & 0x08 != 0).then_some(())?;
    carried(Encapsulation::Vxlan, LinkType::Ethernet, frame)
}

/// Geneve: version 0, options of `opt_len` × 4 bytes, then the protocol type's packet.
fn geneve(payload: &[u8]) -> Option<Inner<'_>> {
    let &[version_optlen, _, p0, p1, ..] = payload else {
        return None;
    };
    if version_optlen >> 6 != 0 {
        return None;
    }
    let header_len = 8 + usize::from(version_optlen & 0x3f) * 4;
    let link_type = by_ethertype(u16::from_be_bytes([p0, p1]))?;
    carried(Encapsulation::Geneve, link_type, payload.get(header_len..)?)
}

/// GRE: flags and version, the protocol type, then the optional checksum, key and
/// sequence number; ERSPAN inside adds its own header before the mirrored Ethernet frame.
fn gre(payload: &[u8]) -> Option<Inner<'_>> {
    let &[f0, f1, p0, p1, ..] = payload else {
        return None;
    };
    if f1 & 0x07 != 0 {
        return None; // Version 1 is PPTP's enhanced GRE: not a packet carrier here.
    }
    let (checksum, key, sequence) = (f0 & 0x80 != 0, f0 & 0x20 != 0, f0 & 0x10 != 0);
    let header_len = 4 + 4 * (usize::from(checksum) + usize::from(key) + usize::from(sequence));
    let rest = payload.get(header_len..)?;
    let protocol = u16::from_be_bytes([p0, p1]);
    let ethernet = |skip: usize| carried(Encapsulation::Gre, LinkType::Ethernet, rest.get(skip..)?);
    match protocol {
        // Type I has no sequence number and no header of its own; type II has 8 bytes.
        ERSPAN_II if !sequence => ethernet(0),
        ERSPAN_II => ethernet(8),
        // Type III: 12 bytes, and 8 more when the O flag says a platform subheader follows.
        ERSPAN_III => {
            let o_flag = rest.get(11)? & 0x01 != 0;
            ethernet(if o_flag { 20 } else { 12 })
        }
        // WCCP v2 puts a 4-byte redirect header before the IPv4 packet; v1 none.
        WCCP => match rest.first()? >> 4 {
            4 => carried(Encapsulation::Gre, LinkType::Ipv4, rest),
            _ => carried(Encapsulation::Gre, LinkType::Ipv4, rest.get(4..)?),
        },
        // Cisco MetaData: the inner EtherType, version, options length (4-byte words),
        // then the options (the SGT), as Wireshark's `cmd` dissector reads it.
        CISCO_METADATA => {
            let &[t0, t1, _version, words, ..] = rest else {
                return None;
            };
            let link_type = by_ethertype(u16::from_be_bytes([t0, t1]))?;
            carried(
                Encapsulation::Gre,
                link_type,
                rest.get(4 + 4 * usize::from(words)..)?,
            )
        }
        other => carried(Encapsulation::Gre, by_ethertype(other)?, rest),
    }
}

/// Teredo: IPv6 over UDP, possibly after an authentication indicator (0x0001) and an origin
/// indication (0x0000, 8 bytes).
fn teredo(payload: &[u8]) -> Option<Inner<'_>> {
    let mut rest = payload;
    if let [0x00, 0x01, id_len, auth_len, ..] = *rest {
        rest = rest.get(4 + usize::from(id_len) + usize::from(auth_len) + 9..)?;
    }
    if let [0x00, 0x00, ..] = rest {
        rest = rest.get(8..)?;
    }
    (rest.first()? >> 4 == 6 && rest.len() >= ipv6::HEADER_LEN).then_some(())?;
    carried(Encapsulation::Teredo, LinkType::Ipv6, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;
    use alloc::vec;

    /// The start of an inner Ethernet frame: broadcast destination, a source, IPv4.
    const ETHERNET: [u8; 14] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
    ];

    fn assert_inner(found: Option<Inner<'_>>, how: Encapsulation, link: LinkType, frame: &[u8]) {
        let inner = found.expect("an inner packet");
        assert_eq!((inner.encapsulation, inner.link_type), (how, link));
        assert_eq!(inner.frame, frame);
    }

    #[test]
    fn vxlan_needs_its_i_flag() {
        let mut payload = vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0]; // I flag, VNI 0x1234
        payload.extend(ETHERNET);
        assert_inner(
            vxlan(&payload),
            Encapsulation::Vxlan,
            LinkType::Ethernet,
            &ETHERNET,
        );
        payload[0] = 0;
        assert!(vxlan(&payload).is_none(), "no I flag: not VXLAN");
        assert!(vxlan(&payload[..7]).is_none(), "a short header");
    }

    #[test]
    fn geneve_skips_its_options() {
        // Version 0, one 4-byte option, protocol type Ethernet, VNI, then the option.
        let mut payload = vec![0x01, 0, 0x65, 0x58, 0, 0, 0x2a, 0, 0x01, 0x02, 0x03, 0x04];
        payload.extend(ETHERNET);
        assert_inner(
            geneve(&payload),
            Encapsulation::Geneve,
            LinkType::Ethernet,
            &ETHERNET,
        );
        // IPv4 directly, no options.
        let ip = [0x45, 0, 0, 20];
        let direct = [&[0x00, 0, 0x08, 0x00, 0, 0, 0x2a, 0][..], &ip].concat();
        assert_inner(geneve(&direct), Encapsulation::Geneve, LinkType::Ipv4, &ip);
        payload[0] = 0x41; // version 1
        assert!(geneve(&payload).is_none());
        assert!(
            geneve(&[0x3f, 0, 0x65, 0x58, 0, 0, 0, 0]).is_none(),
            "options past the end"
        );
    }

    #[test]
    fn gre_reads_its_optional_fields_and_erspan() {
        let ip = [0x45, 0, 0, 20];
        // Key and sequence number present (8 more bytes), IPv4 inside.
        let keyed = [&[0x30, 0, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 2][..], &ip].concat();
        assert_inner(gre(&keyed), Encapsulation::Gre, LinkType::Ipv4, &ip);
        // ERSPAN type II: a sequence number, then its 8-byte header.
        let erspan2 = [
            &[0x10, 0, 0x88, 0xbe, 0, 0, 0, 7][..],
            &[0x10, 0x01, 0, 0, 0, 0, 0, 0],
            &ETHERNET,
        ]
        .concat();
        assert_inner(
            gre(&erspan2),
            Encapsulation::Gre,
            LinkType::Ethernet,
            &ETHERNET,
        );
        // ERSPAN type I: no sequence number, no header.
        let erspan1 = [&[0x00, 0, 0x88, 0xbe][..], &ETHERNET].concat();
        assert_inner(
            gre(&erspan1),
            Encapsulation::Gre,
            LinkType::Ethernet,
            &ETHERNET,
        );
        // ERSPAN type III with the O flag: 12 + 8 bytes of header.
        let mut erspan3 = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 7];
        erspan3.extend([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01]);
        erspan3.extend([0; 8]);
        erspan3.extend(ETHERNET);
        assert_inner(
            gre(&erspan3),
            Encapsulation::Gre,
            LinkType::Ethernet,
            &ETHERNET,
        );
        assert!(gre(&[0x00, 0x01, 0x88, 0x0b]).is_none(), "version 1 (PPTP)");
        assert!(
            gre(&[0x00, 0, 0x08, 0x06, 0, 0]).is_none(),
            "ARP is no packet carrier"
        );
        assert!(
            gre(&[0x80, 0, 0x08, 0x00]).is_none(),
            "a checksum past the end"
        );
    }

    #[test]
    fn mpls_over_udp_strips_its_labels() {
        let ipv4 = [
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 59, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        // Two labels, the second the bottom of the stack (S bit).
        let labels = [0x00, 0x01, 0x40, 0x40, 0x00, 0x02, 0x01, 0x40];
        let payload = [&labels[..], &ipv4].concat();
        assert_inner(
            mpls_over_udp(&payload),
            Encapsulation::MplsOverUdp,
            LinkType::Ipv4,
            &ipv4,
        );
        assert!(mpls_over_udp(&labels[..4]).is_none(), "no bottom of stack");
        let not_ip = [&labels[..], &[0x00; 20]].concat();
        assert!(
            mpls_over_udp(&not_ip).is_none(),
            "neither IPv4 nor IPv6 after the labels"
        );
    }

    #[test]
    fn teredo_skips_its_indicators() {
        let mut ipv6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        ipv6.extend([0; 32]);
        assert_inner(teredo(&ipv6), Encapsulation::Teredo, LinkType::Ipv6, &ipv6);
        // An origin indication (8 bytes) first.
        let origin = [&[0x00, 0x00, 0x0d, 0xd4, 0xc0, 0, 2, 1][..], &ipv6].concat();
        assert_inner(
            teredo(&origin),
            Encapsulation::Teredo,
            LinkType::Ipv6,
            &ipv6,
        );
        // An authentication indicator: 4 bytes, id and value lengths, nonce and confirmation.
        let auth = [&[0x00, 0x01, 1, 2, 0xaa, 0xbb, 0xcc][..], &[0; 9], &ipv6].concat();
        assert_inner(teredo(&auth), Encapsulation::Teredo, LinkType::Ipv6, &ipv6);
        assert!(teredo(&ipv6[..39]).is_none(), "shorter than an IPv6 header");
        assert!(teredo(&[0x45; 40]).is_none(), "not IPv6");
    }

    #[test]
    fn ip_in_ip_from_a_decoded_packet() {
        // IPv4 carrying IPv4 (protocol 4), 10.0.0.1 > 10.0.0.2, checksum not checked.
        let inner_ip = [
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 59, 0, 0, 192, 168, 0, 1, 192, 168, 0, 2,
        ];
        let outer = [
            &[
                0x45, 0, 0, 40, 0, 0, 0, 0, 64, IPIP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ][..],
            &inner_ip,
        ]
        .concat();
        let decoded = decode(LinkType::Ipv4, &outer);
        assert_inner(
            inner(&decoded),
            Encapsulation::IpInIp,
            LinkType::Ipv4,
            &inner_ip,
        );
        let plain = decode(LinkType::Ipv4, &inner_ip);
        assert!(inner(&plain).is_none(), "protocol 59 carries nothing");
        // Ethernet in IPv6 (protocol 143), as SRv6's L2 services carry it.
        let mut ipv6 = vec![0x60, 0, 0, 0, 0, ETHERNET.len() as u8, ETHERNET_IN_IP, 64];
        ipv6.extend([0; 32]);
        ipv6.extend(ETHERNET);
        let decoded = decode(LinkType::Ipv6, &ipv6);
        assert_inner(
            inner(&decoded),
            Encapsulation::IpInIp,
            LinkType::Ethernet,
            &ETHERNET,
        );
    }

    #[test]
    fn vxlan_gpe_follows_its_next_protocol() {
        let ip = [0x45, 0, 0, 20];
        let gpe = |flags: u8, next: u8, rest: &[u8]| {
            [&[flags, 0, 0, next, 0, 0, 0x2a, 0][..], rest].concat()
        };
        let ipv4 = gpe(0x0c, 1, &ip);
        assert_inner(
            vxlan_gpe(&ipv4),
            Encapsulation::VxlanGpe,
            LinkType::Ipv4,
            &ip,
        );
        // Without the P flag the next protocol is not read: Ethernet, as in VXLAN.
        let bare = gpe(0x08, 1, &ETHERNET);
        assert_inner(
            vxlan_gpe(&bare),
            Encapsulation::VxlanGpe,
            LinkType::Ethernet,
            &ETHERNET,
        );
        // An NSH (length 2 words = 8 bytes, next protocol IPv4) before the packet.
        let nsh = [&[0x0f, 0x02, 0x01, 0x01, 0, 0, 0x01, 0xff][..], &ip].concat();
        let over_nsh = gpe(0x0c, 4, &nsh);
        assert_inner(
            vxlan_gpe(&over_nsh),
            Encapsulation::VxlanGpe,
            LinkType::Ipv4,
            &ip,
        );
        // One MPLS label (bottom of stack), then IPv4.
        let mpls = [&[0, 0x01, 0x01, 0x40][..], &ip].concat();
        assert_inner(
            vxlan_gpe(&gpe(0x0c, 5, &mpls)),
            Encapsulation::VxlanGpe,
            LinkType::Ipv4,
            &ip,
        );
        assert!(
            vxlan_gpe(&gpe(0x0c, 9, &ip)).is_none(),
            "an unknown next protocol"
        );
        assert!(vxlan_gpe(&ipv4[..7]).is_none(), "a short header");
    }

    #[test]
    fn gre_carries_cisco_metadata() {
        let ip = [0x45, 0, 0, 20];
        // As tcpdump's various_gre.pcap has it: GRE with a key, protocol 0x8909, then
        // IPv4 (0x0800), version 1, one word of options: type 1 (SGT), SGT 0.
        let gre_header = [0x20, 0x00, 0x89, 0x09, 0, 0, 0, 0x28];
        let cmd = [0x08, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00];
        let packet = [&gre_header[..], &cmd, &ip].concat();
        assert_inner(gre(&packet), Encapsulation::Gre, LinkType::Ipv4, &ip);
        // Options longer than the packet, or an EtherType it cannot carry: no inner packet.
        let long = [&gre_header[..], &[0x08, 0x00, 0x01, 0x09, 0, 1, 0, 0]].concat();
        assert!(gre(&long).is_none());
        let unknown = [&gre_header[..], &[0x12, 0x34, 0x01, 0x01, 0, 1, 0, 0], &ip].concat();
        assert!(gre(&unknown).is_none());
    }

    #[test]
    fn gre_carries_wccp_redirects() {
        let ip = [0x45, 0, 0, 20];
        // WCCP v2: a 4-byte redirect header first.
        let v2 = [&[0, 0, 0x88, 0x3e, 0x02, 0, 0, 0][..], &ip].concat();
        assert_inner(gre(&v2), Encapsulation::Gre, LinkType::Ipv4, &ip);
        // WCCP v1: the packet at once.
        let v1 = [&[0, 0, 0x88, 0x3e][..], &ip].concat();
        assert_inner(gre(&v1), Encapsulation::Gre, LinkType::Ipv4, &ip);
    }
}
