//! Failed connections: what `net_connect_failure` reports, and the packet an ICMP or
//! ICMPv6 error quotes, by which an error is traced back to the connection that caused it.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ip;

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A RST answered the SYN.
    Refused,
    /// An ICMP or ICMPv6 error (unreachable, time exceeded, packet too big) answered.
    Unreachable,
    /// Nothing answered the SYN and its retransmissions: the connecting socket gave up
    /// (or its process closed it), or the flow ended so.
    Timeout,
}

impl Cause {
    /// The name the event carries.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Refused => "refused",
            Cause::Unreachable => "unreachable",
            Cause::Timeout => "timeout",
        }
    }
}

/// A failed connection: its cause, the SYNs (TCP) or datagrams (UDP) the originator sent,
/// and the ICMP error's type and code when one answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Why.
    pub cause: Cause,
    /// SYNs (TCP) or datagrams (UDP) the originator sent.
    pub attempts: u64,
    /// The ICMP or ICMPv6 error's type and code.
    pub icmp: Option<(u8, u8)>,
    /// The error the connecting socket got, as the kernel reported it (host mode); 0
    /// when not known.
    pub error: u16,
}

/// What the kernel said of a local socket (host mode's socket reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketReport {
    /// An error was reported on it — an ICMP error answering a connecting TCP socket, or
    /// a UDP socket's: the errno, 0 when the kernel set it only after reporting it.
    Error(u16),
    /// A connecting TCP socket closed: its errno, 0 when none was left (its process gave
    /// up, or took the error with `SO_ERROR` first).
    Closed(u16),
}

impl SocketReport {
    /// Why the connection of a socket so reported failed, `answered` when its peer sent
    /// anything. `None`: no failure (a TCP socket closed after its peer answered).
    pub fn cause(self, answered: bool) -> Option<Cause> {
        match self {
            SocketReport::Closed(0) if !answered => Some(Cause::Timeout),
            SocketReport::Closed(0) => None,
            SocketReport::Closed(errno::ETIMEDOUT) => Some(Cause::Timeout),
            // A refusing RST is seen, and reported, before its socket closes: a refusal
            // left to report came from an ICMP port unreachable.
            SocketReport::Closed(_) | SocketReport::Error(_) => Some(Cause::Unreachable),
        }
    }

    /// The errno it carries.
    pub fn error(self) -> u16 {
        match self {
            SocketReport::Error(e) | SocketReport::Closed(e) => e,
        }
    }
}

/// The failed connect's errno values the kernel reports.
pub mod errno {
    /// Permission denied (an ICMP "administratively prohibited").
    pub const EACCES: u16 = 13;
    /// Protocol error (an ICMP parameter problem).
    pub const EPROTO: u16 = 71;
    /// Message too long (an ICMP "fragmentation needed" or "packet too big").
    pub const EMSGSIZE: u16 = 90;
    /// Protocol not available (an ICMP protocol unreachable).
    pub const ENOPROTOOPT: u16 = 92;
    /// Network unreachable.
    pub const ENETUNREACH: u16 = 101;
    /// Timed out: no answer to the SYN and its retransmissions.
    pub const ETIMEDOUT: u16 = 110;
    /// Connection refused (a RST, or an ICMP port unreachable).
    pub const ECONNREFUSED: u16 = 111;
    /// Host down.
    pub const EHOSTDOWN: u16 = 112;
    /// Host unreachable.
    pub const EHOSTUNREACH: u16 = 113;

    /// The name `<errno.h>` gives `error`; "" for 0, `unknown` for others than above.
    pub fn name(error: u16) -> &'static str {
        match error {
            0 => "",
            EACCES => "EACCES",
            EPROTO => "EPROTO",
            EMSGSIZE => "EMSGSIZE",
            ENOPROTOOPT => "ENOPROTOOPT",
            ENETUNREACH => "ENETUNREACH",
            ETIMEDOUT => "ETIMEDOUT",
            ECONNREFUSED => "ECONNREFUSED",
            EHOSTDOWN => "EHOSTDOWN",
            EHOSTUNREACH => "EHOSTUNREACH",
            _ => "unknown",
        }
    }
}

/// A quoted packet's transport protocol, source and destination (address, port).
pub type Quoted = (u8, (IpAddr, u16), (IpAddr, u16));

/// The transport protocol and endpoints (source, destination) of the packet quoted by an
/// ICMP error of `icmp_protocol` (ICMP or ICMPv6) with `icmp_type`: `quoted` is what
/// follows the message's 8-byte header. `None` for other messages, and for quoted packets
/// that are not TCP or UDP or are cut before their ports.
pub fn quoted_endpoints(icmp_protocol: u8, icmp_type: u8, quoted: &[u8]) -> Option<Quoted> {
    let (protocol, src, dst, transport) = match (icmp_protocol, icmp_type) {
        // Destination unreachable, time exceeded.
        (ip::ICMP, 3 | 11) => {
            let header_len = usize::from(quoted.first()? & 0x0f) * 4;
            if quoted[0] >> 4 != 4 || header_len < 20 {
                return None;
            }
            let address = |at: usize| -> Option<IpAddr> {
                let octets: [u8; 4] = quoted.get(at..at + 4)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(octets)))
            };
            (
                *quoted.get(9)?,
                address(12)?,
                address(16)?,
                quoted.get(header_len..)?,
            )
        }
        // Destination unreachable, packet too big, time exceeded.
        (ip::ICMPV6, 1..=3) => {
            if quoted.first()? >> 4 != 6 {
                return None;
            }
            let address = |at: usize| -> Option<IpAddr> {
                let octets: [u8; 16] = quoted.get(at..at + 16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(octets)))
            };
            (
                *quoted.get(6)?,
                address(8)?,
                address(24)?,
                quoted.get(40..)?,
            )
        }
        _ => return None,
    };
    if protocol != ip::TCP && protocol != ip::UDP {
        return None;
    }
    let port = |at: usize| {
        Some(u16::from_be_bytes([
            *transport.get(at)?,
            *transport.get(at + 1)?,
        ]))
    };
    Some((protocol, (src, port(0)?), (dst, port(2)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_reports_give_their_cause() {
        use SocketReport::{Closed, Error};
        let cases = [
            // A connecting socket closed with nothing back: the kernel or the process gave up.
            (Closed(errno::ETIMEDOUT), false, Some(Cause::Timeout)),
            (Closed(0), false, Some(Cause::Timeout)),
            // Closed after the peer answered: not a failed connect.
            (Closed(0), true, None),
            (Closed(errno::EHOSTUNREACH), false, Some(Cause::Unreachable)),
            (Closed(errno::ECONNREFUSED), false, Some(Cause::Unreachable)),
            (Error(errno::ECONNREFUSED), true, Some(Cause::Unreachable)),
            (Error(0), false, Some(Cause::Unreachable)),
        ];
        for (report, answered, cause) in cases {
            assert_eq!(
                report.cause(answered),
                cause,
                "{report:?} answered={answered}"
            );
        }
        assert_eq!(errno::name(errno::EHOSTUNREACH), "EHOSTUNREACH");
        assert_eq!((errno::name(0), errno::name(999)), ("", "unknown"));
    }

    #[test]
    fn a_port_unreachable_quotes_the_udp_datagram() {
        // The quoted IPv4 header (20 bytes) and UDP header.
        let mut body = alloc::vec![];
        body.extend_from_slice(&[0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0]);
        body.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
        body.extend_from_slice(&[0x9c, 0x40, 0x00, 0x35, 0, 8, 0, 0]);
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        assert_eq!(
            quoted_endpoints(ip::ICMP, 3, &body),
            Some((ip::UDP, (v4(10, 0, 0, 2), 40000), (v4(10, 0, 0, 1), 53)))
        );
        // An echo reply quotes nothing; a quote cut before its ports gives nothing.
        assert_eq!(quoted_endpoints(ip::ICMP, 0, &body), None);
        assert_eq!(quoted_endpoints(ip::ICMP, 3, &body[..21]), None);
        assert_eq!(quoted_endpoints(ip::ICMP, 3, &[]), None);
    }

    #[test]
    fn an_icmpv6_error_quotes_the_tcp_segment() {
        let mut body = alloc::vec![];
        body.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
        let (src, dst) = (
            "fd00::2".parse::<Ipv6Addr>().unwrap(),
            "fd00::1".parse::<Ipv6Addr>().unwrap(),
        );
        body.extend_from_slice(&src.octets());
        body.extend_from_slice(&dst.octets());
        body.extend_from_slice(&[0x9c, 0x41, 0x01, 0xbb]);
        assert_eq!(
            quoted_endpoints(ip::ICMPV6, 2, &body),
            Some((ip::TCP, (IpAddr::V6(src), 40001), (IpAddr::V6(dst), 443)))
        );
        // An echo request (128) is not an error.
        assert_eq!(quoted_endpoints(ip::ICMPV6, 128, &body), None);
    }
}
