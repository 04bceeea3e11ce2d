//! Decode errors: one enum per layer, gathered in [`DecodeError`] so a caller can count
//! them by [`DecodeError::kind`] and print them with the layer that failed.

use core::fmt;

use crate::truncated::Truncated;

/// Why a frame, or one of its layers, could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The link-layer header (Ethernet, VLAN, Linux cooked capture).
    Link(crate::link::LinkError),
    /// The IPv4 header.
    Ipv4(crate::ipv4::Ipv4Error),
    /// The IPv6 header or its extension-header chain.
    Ipv6(crate::ipv6::Ipv6Error),
    /// The TCP header.
    Tcp(crate::tcp::TcpError),
    /// The UDP header.
    Udp(Truncated),
    /// The ICMP header.
    Icmp(Truncated),
    /// The ICMPv6 header.
    Icmpv6(Truncated),
    /// A DNS message.
    Dns(crate::dns::DnsError),
}

impl DecodeError {
    /// A short stable name of the layer and the problem, e.g. `ipv4.bad_header_length`,
    /// used as the key when errors are counted.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Link(e) => e.kind(),
            DecodeError::Ipv4(e) => e.kind(),
            DecodeError::Ipv6(e) => e.kind(),
            DecodeError::Tcp(e) => e.kind(),
            DecodeError::Udp(_) => "udp.truncated",
            DecodeError::Icmp(_) => "icmp.truncated",
            DecodeError::Icmpv6(_) => "icmpv6.truncated",
            DecodeError::Dns(e) => e.kind(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Link(e) => write!(f, "link layer: {e}"),
            DecodeError::Ipv4(e) => write!(f, "IPv4: {e}"),
            DecodeError::Ipv6(e) => write!(f, "IPv6: {e}"),
            DecodeError::Tcp(e) => write!(f, "TCP: {e}"),
            DecodeError::Udp(e) => write!(f, "UDP: {e}"),
            DecodeError::Icmp(e) => write!(f, "ICMP: {e}"),
            DecodeError::Icmpv6(e) => write!(f, "ICMPv6: {e}"),
            DecodeError::Dns(e) => write!(f, "DNS: {e}"),
        }
    }
}

impl core::error::Error for DecodeError {}
