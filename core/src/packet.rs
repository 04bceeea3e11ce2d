//! Whole-frame decoding: link → network → transport, stopping at the first layer that
//! fails and keeping every layer decoded before it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::{self, DnsError, DnsMessage};
use crate::error::DecodeError;
use crate::icmp::IcmpView;
use crate::icmpv6::Icmpv6View;
use crate::ip;
use crate::ipv4::Ipv4View;
use crate::ipv6::Ipv6View;
use crate::link::{self, LinkType};
use crate::tcp::TcpView;
use crate::udp::UdpView;

/// The network layer of a frame.
#[derive(Debug, Clone, Copy)]
pub enum Network<'a> {
    /// An IPv4 packet.
    Ipv4(Ipv4View<'a>),
    /// An IPv6 packet.
    Ipv6(Ipv6View<'a>),
}

impl<'a> Network<'a> {
    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            Network::Ipv4(v) => IpAddr::V4(Ipv4Addr::from(v.src())),
            Network::Ipv6(v) => IpAddr::V6(Ipv6Addr::from(v.src())),
        }
    }
    /// The whole IP packet, as captured.
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            Network::Ipv4(v) => v.bytes(),
            Network::Ipv6(v) => v.bytes(),
        }
    }
    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            Network::Ipv4(v) => IpAddr::V4(Ipv4Addr::from(v.dst())),
            Network::Ipv6(v) => IpAddr::V6(Ipv6Addr::from(v.dst())),
        }
    }
}

/// The transport layer of a packet.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp(TcpView<'a>),
    /// A UDP datagram.
    Udp(UdpView<'a>),
    /// An ICMP message.
    Icmp(IcmpView<'a>),
    /// An ICMPv6 message.
    Icmpv6(Icmpv6View<'a>),
}

impl Transport<'_> {
    /// Source and destination ports, for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self {
            Transport::Tcp(t) => Some((t.src_port(), t.dst_port())),
            Transport::Udp(u) => Some((u.src_port(), u.dst_port())),
            _ => None,
        }
    }
}

/// What [`decode`] made of a frame: each layer that decoded, and the error that stopped
/// it, if any. A frame that is not IP (ARP, LLDP, …) has neither network nor error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Decoded<'a> {
    /// The IPv4 or IPv6 layer.
    pub network: Option<Network<'a>>,
    /// The TCP, UDP, ICMP or ICMPv6 layer. `None` for other protocols and for
    /// fragments after the first.
    pub transport: Option<Transport<'a>>,
    /// Why decoding stopped early.
    pub error: Option<DecodeError>,
}

impl<'a> Decoded<'a> {
    /// The DNS message carried over UDP to or from port 53, decoded on demand so that
    /// packets cost nothing for DNS unless a DNS event is wanted: whole, or cut short (a
    /// snapped reply, a malformed record) with the entries before the fault
    /// ([`DnsMessage::parse_partial`]); an error when even the header is cut short. DNS
    /// over TCP needs the flow's earlier segments: see [`crate::dns::tcp`].
    pub fn dns_over_udp(&self) -> Option<Result<DnsMessage<'a>, DnsError>> {
        match self.transport? {
            Transport::Udp(udp) if udp.src_port() == dns::PORT || udp.dst_port() == dns::PORT => {
                Some(DnsMessage::parse_partial(udp.payload()))
            }
            _ => None,
        }
    }
}

/// Decodes one captured frame of the given link type.
///
/// Inline, so that the layers a caller does not read cost nothing to build (issue 30:
/// the same checks out of line took 1.4× as long on the bench's mix).
#[inline(always)]
pub fn decode(link_type: LinkType, frame: &[u8]) -> Decoded<'_> {
    let mut decoded = Decoded::default();
    let link = match link::decode_link(link_type, frame) {
        Ok(link) => link,
        Err(e) => {
            decoded.error = Some(DecodeError::Link(e));
            return decoded;
        }
    };
    let (protocol, payload) = match link.ethertype {
        link::ETHERTYPE_IPV4 => match Ipv4View::parse(link.payload) {
            Ok(v4) => {
                decoded.network = Some(Network::Ipv4(v4));
                if v4.is_later_fragment() {
                    return decoded;
                }
                (v4.protocol(), v4.payload())
            }
            Err(e) => {
                decoded.error = Some(DecodeError::Ipv4(e));
                return decoded;
            }
        },
        link::ETHERTYPE_IPV6 => match Ipv6View::parse(link.payload) {
            Ok(v6) => {
                decoded.network = Some(Network::Ipv6(v6));
                match v6.upper_layer() {
                    Ok(upper) if upper.later_fragment => return decoded,
                    Ok(upper) => (upper.protocol, upper.payload),
                    Err(e) => {
                        decoded.error = Some(DecodeError::Ipv6(e));
                        return decoded;
                    }
                }
            }
            Err(e) => {
                decoded.error = Some(DecodeError::Ipv6(e));
                return decoded;
            }
        },
        _ => return decoded,
    };
    let transport = match protocol {
        ip::TCP => TcpView::parse(payload)
            .map(Transport::Tcp)
            .map_err(DecodeError::Tcp),
        ip::UDP => UdpView::parse(payload)
            .map(Transport::Udp)
            .map_err(DecodeError::Udp),
        ip::ICMP => IcmpView::parse(payload)
            .map(Transport::Icmp)
            .map_err(DecodeError::Icmp),
        ip::ICMPV6 => Icmpv6View::parse(payload)
            .map(Transport::Icmpv6)
            .map_err(DecodeError::Icmpv6),
        _ => return decoded,
    };
    match transport {
        Ok(t) => decoded.transport = Some(t),
        Err(e) => decoded.error = Some(e),
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpError;

    fn ipv4(protocol: u8, frag: [u8; 2], l4: &[u8]) -> alloc::vec::Vec<u8> {
        let total = (20 + l4.len()) as u16;
        let mut p = alloc::vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[
            0, 1, frag[0], frag[1], 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn udp_over_raw_ipv4() {
        let p = ipv4(ip::UDP, [0x40, 0], &[0x14, 0xe9, 0x30, 0x39, 0, 8, 0, 0]);
        let d = decode(LinkType::Raw, &p);
        assert!(matches!(d.network, Some(Network::Ipv4(_))));
        assert!(matches!(d.transport, Some(Transport::Udp(u)) if u.dst_port() == 12345));
        assert_eq!(d.error, None);
        assert_eq!(
            d.network.unwrap().src(),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
        );
    }

    #[test]
    fn udp_port_53_carries_dns_decoded_on_demand() {
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let mut udp = alloc::vec![0x30, 0x39, 0, 53, 0, 27, 0, 0];
        udp.extend_from_slice(&query);
        let packet = ipv4(ip::UDP, [0, 0], &udp);
        let d = decode(LinkType::Ipv4, &packet);
        assert_eq!(d.dns_over_udp().map(|m| m.unwrap().id()), Some(0x1234));
        // Not DNS after all: the UDP layer stays, the DNS error is reported.
        let short = ipv4(ip::UDP, [0, 0], &udp[..14]);
        let d = decode(LinkType::Ipv4, &short);
        assert!(matches!(d.transport, Some(Transport::Udp(_))) && d.error.is_none());
        assert_eq!(
            d.dns_over_udp().unwrap().unwrap_err().kind(),
            "dns.truncated"
        );
        let not_dns = ipv4(ip::UDP, [0, 0], &[0x30, 0x39, 0x30, 0x3a, 0, 8, 0, 0]);
        assert!(decode(LinkType::Ipv4, &not_dns).dns_over_udp().is_none());
    }

    #[test]
    fn bad_transport_keeps_the_network_layer() {
        let p = ipv4(ip::TCP, [0, 0], &[0; 10]);
        let d = decode(LinkType::Ipv4, &p);
        assert!(d.network.is_some() && d.transport.is_none());
        assert!(matches!(
            d.error,
            Some(DecodeError::Tcp(TcpError::Truncated(_)))
        ));
        assert_eq!(d.error.unwrap().kind(), "tcp.truncated");
    }

    #[test]
    fn later_fragment_has_no_transport_and_no_error() {
        let p = ipv4(ip::UDP, [0, 1], &[0; 8]);
        let d = decode(LinkType::Ipv4, &p);
        assert!(d.network.is_some() && d.transport.is_none() && d.error.is_none());
    }

    #[test]
    fn other_protocols_and_ethertypes_are_not_errors() {
        let igmp = ipv4(2, [0, 0], &[0; 8]);
        let d = decode(LinkType::Ipv4, &igmp);
        assert!(d.network.is_some() && d.transport.is_none() && d.error.is_none());
        let mut arp = alloc::vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
        let d = decode(LinkType::Ethernet, &arp);
        assert!(d.network.is_none() && d.error.is_none());
    }

    #[test]
    fn bad_network_layer_is_an_error() {
        let d = decode(LinkType::Ipv4, &[0x45, 0, 0]);
        assert_eq!(d.error.unwrap().kind(), "ipv4.truncated");
        let d = decode(LinkType::Ipv6, &[0x60; 12]);
        assert_eq!(d.error.unwrap().kind(), "ipv6.truncated");
        let d = decode(LinkType::Ethernet, &[0; 5]);
        assert_eq!(d.error.unwrap().kind(), "link.truncated");
    }
}
