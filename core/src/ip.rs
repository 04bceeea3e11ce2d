//! IP protocol numbers and their Tracee (gopacket) names.

/// Hop-by-hop options (IPv6 extension header).
pub const HOPOPT: u8 = 0;
/// ICMP for IPv4.
pub const ICMP: u8 = 1;
/// TCP.
pub const TCP: u8 = 6;
/// UDP.
pub const UDP: u8 = 17;
/// IPv6 routing header.
pub const IPV6_ROUTE: u8 = 43;
/// IPv6 fragment header.
pub const IPV6_FRAG: u8 = 44;
/// IPsec authentication header.
pub const AH: u8 = 51;
/// ICMP for IPv6.
pub const ICMPV6: u8 = 58;
/// No next header.
pub const IPV6_NONXT: u8 = 59;
/// IPv6 destination options.
pub const IPV6_OPTS: u8 = 60;
/// SCTP.
pub const SCTP: u8 = 132;

/// The name Tracee prints for an IP protocol number (`protocol` in ProtoIPv4,
/// `nextHeader` in ProtoIPv6): gopacket's `IPProtocol.String()`.
pub fn protocol_name(protocol: u8) -> &'static str {
    match protocol {
        0 => "IPv6HopByHop",
        1 => "ICMPv4",
        2 => "IGMP",
        4 => "IPv4",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => "IPv6Routing",
        44 => "IPv6Fragment",
        47 => "GRE",
        50 => "IPSecESP",
        51 => "IPSecAH",
        58 => "ICMPv6",
        59 => "NoNextHeader",
        60 => "IPv6Destination",
        89 => "OSPF",
        112 => "VRRP",
        132 => "SCTP",
        136 => "UDPLite",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_gopacket() {
        assert_eq!(protocol_name(TCP), "TCP");
        assert_eq!(protocol_name(ICMP), "ICMPv4");
        assert_eq!(protocol_name(HOPOPT), "IPv6HopByHop");
        assert_eq!(protocol_name(255), "Unknown");
    }
}
