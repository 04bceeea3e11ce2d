//! UDP (RFC 768).

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::truncated::{Truncated, header_prefix};

/// The 8-byte UDP header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UdpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Length of header and data.
    pub length: U16,
    /// Checksum (0 when unused over IPv4).
    pub checksum: U16,
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = size_of::<UdpHeader>();

/// A checked view of a UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct UdpView<'a> {
    header: &'a UdpHeader,
    payload: &'a [u8],
}

impl<'a> UdpView<'a> {
    /// Checks `bytes` as a UDP datagram. The payload ends at the length field when that
    /// is consistent, else at the end of the captured bytes.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Truncated> {
        let (header, rest) = header_prefix::<UdpHeader>(bytes)?;
        let length = usize::from(header.length.get());
        // Below 8 the field is impossible (or 0, a jumbogram): trust the capture.
        let end = if length >= HEADER_LEN {
            (length - HEADER_LEN).min(rest.len())
        } else {
            rest.len()
        };
        Ok(UdpView {
            header,
            payload: &rest[..end],
        })
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }
    /// Length field.
    pub fn length(&self) -> u16 {
        self.header.length.get()
    }
    /// Checksum as carried.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// The datagram's data, as captured.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATAGRAM: [u8; 10] = [0xd4, 0x62, 0x1f, 0x9a, 0x00, 0x0a, 0x12, 0x19, b'h', b'i'];

    #[test]
    fn fields() {
        let u = UdpView::parse(&DATAGRAM).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.length(), u.checksum()),
            (54370, 8090, 10, 4633)
        );
        assert_eq!(u.payload(), b"hi");
    }

    #[test]
    fn length_field_bounds_the_payload_only_when_consistent() {
        let mut d = DATAGRAM;
        d[5] = 9;
        assert_eq!(UdpView::parse(&d).unwrap().payload(), b"h");
        d[5] = 200;
        assert_eq!(UdpView::parse(&d).unwrap().payload(), b"hi");
        d[5] = 8;
        assert_eq!(UdpView::parse(&d).unwrap().payload(), b"");
        d[5] = 3;
        assert_eq!(UdpView::parse(&d).unwrap().payload(), b"hi");
    }

    #[test]
    fn truncated() {
        assert_eq!(
            UdpView::parse(&DATAGRAM[..7]).unwrap_err(),
            Truncated { need: 8, have: 7 }
        );
    }
}
