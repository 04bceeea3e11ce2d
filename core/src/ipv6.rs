//! IPv6 (RFC 8200): the fixed header and the extension-header chain (hop-by-hop,
//! routing, fragment, destination options, authentication, mobility) walked to the
//! upper-layer protocol.

use core::fmt;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::ip;
use crate::truncated::{Truncated, header_prefix};

/// The fixed 40-byte IPv6 header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Ipv6Header {
    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub version_class_flow: U32,
    /// Length of everything after the fixed header.
    pub payload_len: U16,
    /// Protocol of the first extension header or of the upper layer.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = size_of::<Ipv6Header>();

/// Mobility header (RFC 6275), an extension header with the generic layout.
pub const MOBILITY: u8 = 135;

/// The longest extension-header chain walked before giving up.
pub const MAX_EXTENSION_HEADERS: usize = 16;

/// A checked view of an IPv6 packet's fixed header and payload.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6View<'a> {
    header: &'a Ipv6Header,
    payload: &'a [u8],
    packet: &'a [u8],
}

/// Where the extension-header chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer<'a> {
    /// Protocol number of the upper layer (59 when there is none).
    pub protocol: u8,
    /// The upper-layer bytes.
    pub payload: &'a [u8],
    /// The extension headers between the fixed header and the upper layer.
    pub extension_headers: &'a [u8],
    /// True when a fragment header with a non-zero offset was met: the payload is a
    /// later fragment and carries no transport header.
    pub later_fragment: bool,
}

/// Why an IPv6 header or its extension chain could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Error {
    /// Fewer bytes than the fixed header.
    Truncated(Truncated),
    /// The version nibble is not 6.
    BadVersion(u8),
    /// An extension header runs past the captured bytes.
    TruncatedExtension {
        /// The extension header's protocol number.
        protocol: u8,
        /// How much was missing.
        truncated: Truncated,
    },
    /// More than [`MAX_EXTENSION_HEADERS`] extension headers.
    TooManyExtensions,
}

impl Ipv6Error {
    /// Stable short name, see [`crate::DecodeError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Ipv6Error::Truncated(_) => "ipv6.truncated",
            Ipv6Error::BadVersion(_) => "ipv6.bad_version",
            Ipv6Error::TruncatedExtension { .. } => "ipv6.truncated_extension",
            Ipv6Error::TooManyExtensions => "ipv6.too_many_extensions",
        }
    }
}

impl fmt::Display for Ipv6Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv6Error::Truncated(t) => write!(f, "header {t}"),
            Ipv6Error::BadVersion(v) => write!(f, "version {v}, expected 6"),
            Ipv6Error::TruncatedExtension {
                protocol,
                truncated,
            } => write!(
                f,
                "extension header {} ({protocol}) {truncated}",
                ip::protocol_name(*protocol)
            ),
            Ipv6Error::TooManyExtensions => {
                write!(f, "more than {MAX_EXTENSION_HEADERS} extension headers")
            }
        }
    }
}

impl<'a> Ipv6View<'a> {
    /// Checks the fixed header. The payload ends at the payload length, or at the end of
    /// `bytes` for a short capture or a jumbogram (payload length 0 behind hop-by-hop).
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Ipv6Error> {
        let (header, rest) = header_prefix::<Ipv6Header>(bytes).map_err(Ipv6Error::Truncated)?;
        let version = (header.version_class_flow.get() >> 28) as u8;
        if version != 6 {
            return Err(Ipv6Error::BadVersion(version));
        }
        let declared = usize::from(header.payload_len.get());
        let jumbogram = declared == 0 && header.next_header == ip::HOPOPT;
        let end = if jumbogram {
            rest.len()
        } else {
            declared.min(rest.len())
        };
        Ok(Ipv6View {
            header,
            payload: &rest[..end],
            packet: &bytes[..HEADER_LEN + end],
        })
    }

    /// The whole packet, header to payload, as captured (what `net_packet_raw` writes).
    pub fn bytes(&self) -> &'a [u8] {
        self.packet
    }

    /// The fixed header.
    pub fn header(&self) -> &'a Ipv6Header {
        self.header
    }
    /// Everything after the fixed header, as captured.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.header.version_class_flow.get() >> 20) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.header.version_class_flow.get() & 0x000f_ffff
    }
    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        self.header.payload_len.get()
    }
    /// The fixed header's next-header field.
    pub fn next_header(&self) -> u8 {
        self.header.next_header
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.header.hop_limit
    }
    /// Source address.
    pub fn src(&self) -> [u8; 16] {
        self.header.src
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 16] {
        self.header.dst
    }

    /// Walks the extension-header chain to the upper layer (inline when there is none).
    #[inline(always)]
    pub fn upper_layer(&self) -> Result<UpperLayer<'a>, Ipv6Error> {
        match self.header.next_header {
            ip::HOPOPT | ip::IPV6_ROUTE | ip::IPV6_OPTS | MOBILITY | ip::AH | ip::IPV6_FRAG => {
                self.walk_extension_headers()
            }
            protocol => Ok(UpperLayer {
                protocol,
                payload: self.payload,
                extension_headers: &[],
                later_fragment: false,
            }),
        }
    }

    #[inline(never)]
    fn walk_extension_headers(&self) -> Result<UpperLayer<'a>, Ipv6Error> {
        let mut protocol = self.header.next_header;
        let mut offset = 0usize;
        for _ in 0..=MAX_EXTENSION_HEADERS {
            let rest = &self.payload[offset..];
            let len = match protocol {
                ip::HOPOPT | ip::IPV6_ROUTE | ip::IPV6_OPTS | MOBILITY => {
                    extension_len(protocol, rest, |b| (usize::from(b) + 1) * 8)?
                }
                ip::AH => extension_len(protocol, rest, |b| (usize::from(b) + 2) * 4)?,
                ip::IPV6_FRAG => {
                    let len = extension_len(protocol, rest, |_| 8)?;
                    let frag_offset = u16::from_be_bytes([rest[2], rest[3]]) >> 3;
                    if frag_offset != 0 {
                        return Ok(UpperLayer {
                            protocol: rest[0],
                            payload: &rest[len..],
                            extension_headers: &self.payload[..offset + len],
                            later_fragment: true,
                        });
                    }
                    len
                }
                _ => {
                    return Ok(UpperLayer {
                        protocol,
                        payload: rest,
                        extension_headers: &self.payload[..offset],
                        later_fragment: false,
                    });
                }
            };
            protocol = rest[0];
            offset += len;
        }
        Err(Ipv6Error::TooManyExtensions)
    }
}

/// The length of the extension header at the start of `rest`, checked against what was
/// captured. `len_of` turns the header's length byte into bytes.
fn extension_len(protocol: u8, rest: &[u8], len_of: fn(u8) -> usize) -> Result<usize, Ipv6Error> {
    let truncated = |need| Ipv6Error::TruncatedExtension {
        protocol,
        truncated: Truncated {
            need,
            have: rest.len(),
        },
    };
    let length_byte = *rest.get(1).ok_or(truncated(2))?;
    let len = len_of(length_byte);
    if rest.len() < len {
        return Err(truncated(len));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn packet(next_header: u8, after: &[u8]) -> Vec<u8> {
        let mut p = Vec::from([0x60, 0x04, 0x04, 0x51]); // tc 0, flow 263249 as in the seed
        p.extend_from_slice(&(after.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next_header, 64]);
        p.extend_from_slice(&[0xfd; 16]);
        p.extend_from_slice(&[0xfe; 16]);
        p.extend_from_slice(after);
        p
    }

    #[test]
    fn fixed_header_fields() {
        let p = packet(ip::TCP, &[1, 2, 3]);
        let v = Ipv6View::parse(&p).unwrap();
        assert_eq!(
            (v.traffic_class(), v.flow_label(), v.payload_len()),
            (0, 263249, 3)
        );
        assert_eq!((v.next_header(), v.hop_limit()), (ip::TCP, 64));
        let up = v.upper_layer().unwrap();
        assert_eq!(
            (up.protocol, up.payload, up.later_fragment),
            (ip::TCP, &[1u8, 2, 3][..], false)
        );
    }

    #[test]
    fn chain_of_hop_by_hop_routing_fragment_destination() {
        let mut chain = Vec::new();
        chain.extend_from_slice(&[ip::IPV6_ROUTE, 0, 1, 4, 0, 0, 0, 0]); // HBH, 8 bytes
        chain.extend_from_slice(&[ip::IPV6_FRAG, 0, 0, 0, 0, 0, 0, 0]); // routing, 8 bytes
        chain.extend_from_slice(&[ip::IPV6_OPTS, 0, 0, 1, 0, 0, 0, 9]); // first fragment (M set)
        chain.extend_from_slice(&[ip::UDP, 1]); // destination options, 16 bytes
        chain.extend_from_slice(&[0; 14]);
        chain.extend_from_slice(&[0xaa; 8]); // UDP
        let p = packet(ip::HOPOPT, &chain);
        let up = Ipv6View::parse(&p).unwrap().upper_layer().unwrap();
        assert_eq!(up.protocol, ip::UDP);
        assert_eq!(up.payload, &[0xaa; 8]);
        assert_eq!(up.extension_headers.len(), 40);
        assert!(!up.later_fragment);
    }

    #[test]
    fn later_fragment_stops_the_walk() {
        let p = packet(ip::IPV6_FRAG, &[ip::TCP, 0, 0x00, 0x08, 0, 0, 0, 1, 0xbb]);
        let up = Ipv6View::parse(&p).unwrap().upper_layer().unwrap();
        assert_eq!(
            (up.protocol, up.later_fragment, up.payload),
            (ip::TCP, true, &[0xbbu8][..])
        );
    }

    #[test]
    fn impossible_chains() {
        let p = packet(ip::IPV6_ROUTE, &[ip::TCP, 1, 0, 0]);
        assert_eq!(
            Ipv6View::parse(&p).unwrap().upper_layer(),
            Err(Ipv6Error::TruncatedExtension {
                protocol: ip::IPV6_ROUTE,
                truncated: Truncated { need: 16, have: 4 }
            })
        );
        let mut endless = Vec::new();
        for _ in 0..20 {
            endless.extend_from_slice(&[ip::IPV6_OPTS, 0, 0, 0, 0, 0, 0, 0]);
        }
        let p = packet(ip::IPV6_OPTS, &endless);
        assert_eq!(
            Ipv6View::parse(&p).unwrap().upper_layer(),
            Err(Ipv6Error::TooManyExtensions)
        );
        assert!(matches!(
            Ipv6View::parse(&p[..39]),
            Err(Ipv6Error::Truncated(_))
        ));
        let mut v4 = p.clone();
        v4[0] = 0x40;
        assert_eq!(Ipv6View::parse(&v4).unwrap_err(), Ipv6Error::BadVersion(4));
    }

    #[test]
    fn short_capture_and_jumbogram() {
        let p = packet(ip::TCP, &[1, 2, 3, 4]);
        assert_eq!(Ipv6View::parse(&p[..42]).unwrap().payload(), &[1, 2]);
        let mut j = packet(ip::HOPOPT, &[ip::UDP, 0, 0xc2, 4, 0, 0, 0, 0, 9, 9]);
        j[4..6].copy_from_slice(&[0, 0]);
        let up = Ipv6View::parse(&j).unwrap().upper_layer().unwrap();
        assert_eq!((up.protocol, up.payload), (ip::UDP, &[9u8, 9][..]));
    }
}
