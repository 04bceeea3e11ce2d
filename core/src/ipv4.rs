//! IPv4 (RFC 791): header with options, fragments.

use core::fmt;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::truncated::{Truncated, header_prefix};

/// The fixed 20-byte IPv4 header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Ipv4Header {
    /// Version (4 bits) and IHL (4 bits).
    pub version_ihl: u8,
    /// Type of service / DSCP+ECN.
    pub tos: u8,
    /// Total length of header and payload.
    pub total_len: U16,
    /// Identification.
    pub id: U16,
    /// Flags (3 bits) and fragment offset (13 bits).
    pub flags_frag: U16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload.
    pub protocol: u8,
    /// Header checksum.
    pub checksum: U16,
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
}

/// Length of the fixed IPv4 header.
pub const HEADER_LEN: usize = size_of::<Ipv4Header>();

/// The fragment-offset bits of [`Ipv4Header::flags_frag`].
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// The header length in bytes that a `version_ihl` byte gives (IHL × 4).
pub const fn header_len_of(version_ihl: u8) -> usize {
    (version_ihl & 0x0f) as usize * 4
}

/// A checked view of an IPv4 packet: header, options and payload.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4View<'a> {
    header: &'a Ipv4Header,
    options: &'a [u8],
    payload: &'a [u8],
    packet: &'a [u8],
}

/// Why an IPv4 header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer bytes than the header (or its IHL) needs.
    Truncated(Truncated),
    /// The version nibble is not 4.
    BadVersion(u8),
    /// IHL below 5 words.
    BadHeaderLength(u8),
    /// Total length smaller than the header length.
    BadTotalLength {
        /// The total length field.
        total_len: u16,
        /// The header length in bytes.
        header_len: usize,
    },
}

impl Ipv4Error {
    /// Stable short name, see [`crate::DecodeError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Ipv4Error::Truncated(_) => "ipv4.truncated",
            Ipv4Error::BadVersion(_) => "ipv4.bad_version",
            Ipv4Error::BadHeaderLength(_) => "ipv4.bad_header_length",
            Ipv4Error::BadTotalLength { .. } => "ipv4.bad_total_length",
        }
    }
}

impl fmt::Display for Ipv4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Error::Truncated(t) => write!(f, "header {t}"),
            Ipv4Error::BadVersion(v) => write!(f, "version {v}, expected 4"),
            Ipv4Error::BadHeaderLength(ihl) => write!(f, "IHL {ihl} is below the minimum of 5"),
            Ipv4Error::BadTotalLength {
                total_len,
                header_len,
            } => {
                write!(
                    f,
                    "total length {total_len} is below the header length {header_len}"
                )
            }
        }
    }
}

impl<'a> Ipv4View<'a> {
    /// Checks `bytes` as an IPv4 packet. The payload ends at the total length, or at the
    /// end of `bytes` when the capture was cut short (snap length): a short capture is not
    /// an error at this layer.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Ipv4Error> {
        let (header, _) = header_prefix::<Ipv4Header>(bytes).map_err(Ipv4Error::Truncated)?;
        let version = header.version_ihl >> 4;
        if version != 4 {
            return Err(Ipv4Error::BadVersion(version));
        }
        let ihl = header.version_ihl & 0x0f;
        if ihl < 5 {
            return Err(Ipv4Error::BadHeaderLength(ihl));
        }
        let header_len = header_len_of(header.version_ihl);
        Truncated::check(header_len, bytes.len()).map_err(Ipv4Error::Truncated)?;
        let total_len = header.total_len.get();
        // Total length 0 is how captures of TSO/GSO super-packets look (the NIC fills it
        // in later): the packet is what was captured, as tshark reads it.
        let end = if total_len == 0 {
            bytes.len()
        } else if usize::from(total_len) < header_len {
            return Err(Ipv4Error::BadTotalLength {
                total_len,
                header_len,
            });
        } else {
            usize::from(total_len).min(bytes.len())
        };
        Ok(Ipv4View {
            header,
            options: &bytes[HEADER_LEN..header_len],
            payload: &bytes[header_len..end],
            packet: &bytes[..end],
        })
    }

    /// The whole packet, header to payload, as captured (what `net_packet_raw` writes).
    pub fn bytes(&self) -> &'a [u8] {
        self.packet
    }

    /// The fixed header.
    pub fn header(&self) -> &'a Ipv4Header {
        self.header
    }
    /// IP options (empty when IHL is 5).
    pub fn options(&self) -> &'a [u8] {
        self.options
    }
    /// The payload as captured: up to the total length, possibly cut short (all that was
    /// captured when the total length is 0, a TSO/GSO super-packet).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// Header length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        self.header.version_ihl & 0x0f
    }
    /// Type of service byte.
    pub fn tos(&self) -> u8 {
        self.header.tos
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        self.header.total_len.get()
    }
    /// Identification field.
    pub fn id(&self) -> u16 {
        self.header.id.get()
    }
    /// The three flag bits as a number (DF = 2, MF = 1).
    pub fn flags(&self) -> u8 {
        (self.header.flags_frag.get() >> 13) as u8
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.header.flags_frag.get() & FRAG_OFFSET_MASK
    }
    /// Whether the total length is 0: a TSO/GSO super-packet captured before the NIC
    /// split it, whose length is what was captured.
    pub fn is_segmentation_offload(&self) -> bool {
        self.header.total_len.get() == 0
    }
    /// True for a fragment after the first: it carries no transport header.
    pub fn is_later_fragment(&self) -> bool {
        self.frag_offset() != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.header.ttl
    }
    /// Protocol number of the payload.
    pub fn protocol(&self) -> u8 {
        self.header.protocol
    }
    /// Header checksum as carried.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        self.header.src
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        self.header.dst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 10.0.0.1 -> 10.0.0.2, TCP, DF, id 0x1234, with 4 bytes of options (IHL 6), 2-byte payload.
    const PACKET: [u8; 26] = [
        0x46, 0x00, 0x00, 0x1a, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0xab, 0xcd, 10, 0, 0, 1, 10, 0,
        0, 2, 0x01, 0x01, 0x01, 0x00, 0xaa, 0xbb,
    ];

    #[test]
    fn fields() {
        let v = Ipv4View::parse(&PACKET).unwrap();
        assert_eq!(
            (v.ihl(), v.total_len(), v.id(), v.flags(), v.frag_offset()),
            (6, 26, 0x1234, 2, 0)
        );
        assert_eq!((v.ttl(), v.protocol(), v.checksum()), (64, 6, 0xabcd));
        assert_eq!((v.src(), v.dst()), ([10, 0, 0, 1], [10, 0, 0, 2]));
        assert_eq!(v.options(), &[1, 1, 1, 0]);
        assert_eq!(v.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn ethernet_padding_is_trimmed_and_short_capture_is_kept() {
        let mut padded = PACKET.to_vec();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(Ipv4View::parse(&padded).unwrap().payload(), &[0xaa, 0xbb]);
        assert_eq!(Ipv4View::parse(&PACKET[..25]).unwrap().payload(), &[0xaa]);
    }

    #[test]
    fn impossible_headers() {
        assert_eq!(
            Ipv4View::parse(&PACKET[..19]).unwrap_err(),
            Ipv4Error::Truncated(Truncated { need: 20, have: 19 })
        );
        assert_eq!(
            Ipv4View::parse(&PACKET[..22]).unwrap_err(),
            Ipv4Error::Truncated(Truncated { need: 24, have: 22 })
        );
        let mut p = PACKET;
        p[0] = 0x65;
        assert_eq!(Ipv4View::parse(&p).unwrap_err(), Ipv4Error::BadVersion(6));
        p[0] = 0x44;
        assert_eq!(
            Ipv4View::parse(&p).unwrap_err(),
            Ipv4Error::BadHeaderLength(4)
        );
        p[0] = 0x46;
        p[3] = 20;
        assert_eq!(
            Ipv4View::parse(&p).unwrap_err(),
            Ipv4Error::BadTotalLength {
                total_len: 20,
                header_len: 24
            }
        );
    }

    #[test]
    fn total_length_zero_is_a_segmentation_offload_packet() {
        // A TSO super-packet: total length 0, 20 header bytes and 3000 of payload captured.
        let mut p = alloc::vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2
        ];
        p.resize(20 + 3000, 0xab);
        let v = Ipv4View::parse(&p).unwrap();
        assert!(v.is_segmentation_offload());
        assert_eq!(v.payload().len(), 3000);
        p[3] = 40;
        let v = Ipv4View::parse(&p).unwrap();
        assert!(!v.is_segmentation_offload());
        assert_eq!(v.payload().len(), 20);
    }

    #[test]
    fn later_fragment() {
        let mut p = PACKET;
        p[6] = 0x20; // MF
        p[7] = 0x03; // offset 3
        let v = Ipv4View::parse(&p).unwrap();
        assert_eq!(
            (v.flags(), v.frag_offset(), v.is_later_fragment()),
            (1, 3, true)
        );
    }
}
